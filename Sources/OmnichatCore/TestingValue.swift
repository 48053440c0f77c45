/// A statement argument for the engines' testing hooks (`testingWrite`,
/// `testingRead`), which the `OmnichatTesting` target's seeders use to write
/// fixtures straight into the tables. Not part of any port.
public enum TestingValue: Sendable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case null
}
