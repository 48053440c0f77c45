import Foundation
import Testing

@testable import OmnichatAdapters

@Suite("Raw JSON slices")
struct RawJSONTests {
    @Test("raw slices: exact bytes of nested values, escapes and odd spacing included")
    func rawSlices() throws {
        let text = #"  { "a\u0062" : [ 1 , "x,]}" , {"k":"v\"}"} ,[ ] ] , "z":null } "#
        let raw = RawJSON(Data(text.utf8))
        let items = try #require(raw.elements(raw.value("ab", in: raw.root)))
        #expect(items.map(raw.text) == ["1", #""x,]}""#, #"{"k":"v\"}"}"#, "[ ]"])
        #expect(raw.value("z", in: raw.root).map(raw.text) == "null")
        #expect(raw.value("missing", in: raw.root) == nil)
        #expect(raw.elements(raw.value("z", in: raw.root)) == nil)
        #expect(RawJSON(Data("[1,2".utf8)).root == nil)
        // A top-level member, as LINE and the custom channel take `events[]`; a document that is not an object has none.
        let body = RawJSON(Data(#"{"destination":"U1","events":[{"type":"message"}, {"type":"follow"}]}"#.utf8))
        #expect(body.elements(body.value("events", in: body.root)).map { $0.map(body.text) } == [#"{"type":"message"}"#, #"{"type":"follow"}"#])
        let array = RawJSON(Data(#"[{"events":[]}]"#.utf8))
        #expect(array.value("events", in: array.root) == nil)
    }
}
