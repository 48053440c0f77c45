import Foundation

enum ConstantTime {
    /// Compares two byte strings without an early exit, so the time taken does
    /// not reveal how many leading bytes matched.
    static func equals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        // Walk the expected length whatever the input, comparing against itself when short.
        let left = Array(a)
        let right = Array(b)
        for index in 0..<right.count {
            let l = index < left.count ? left[index] : ~right[index]
            difference |= l ^ right[index]
        }
        return difference == 0
    }

    static func equals(_ a: String, _ b: String) -> Bool {
        equals(Array(a.utf8), Array(b.utf8))
    }
}
