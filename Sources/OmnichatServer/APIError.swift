import Foundation
import Hummingbird
import OmnichatCore

/// Every error the HTTP API answers: `{"error": {"code", "message"}}` with its status.
public struct APIError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    func response() -> Response {
        var response = JSONBody.response(["error": ["code": code, "message": message]], status: status)
        response.headers.append(contentsOf: headers)
        return response
    }

    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "bad_request", message) }
    static func unauthorized(_ message: String = "missing or invalid bearer token") -> APIError {
        APIError(.unauthorized, "unauthorized", message, headers: [.wwwAuthenticate: "Bearer"])
    }
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, "forbidden", message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }
    static func unprocessable(_ message: String) -> APIError { APIError(.unprocessableContent, "invalid_request", message) }

    static func from(_ error: StoreError) -> APIError {
        switch error.kind {
        case .notFound: .notFound(error.message)
        case .conflict: APIError(.conflict, "conflict", error.message)
        case .invalid: .unprocessable(error.message)
        case .busy: APIError(.serviceUnavailable, "busy", error.message, headers: [.retryAfter: "1"])
        }
    }
}

/// Turns any error into the JSON error shape: ours as they are, Hummingbird's
/// (unknown route, body too large) with a code for their status, anything
/// else as a 500 that reveals nothing.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response()
        } catch let error as StoreError {
            return APIError.from(error).response()
        } catch let error as any HTTPResponseError {
            let code: String
            let message: String
            switch error.status {
            case .notFound where QiscusEndpoints.isHostedProduct(request.uri.path):
                (code, message) = (
                    "not_supported",
                    "\(request.method) \(request.uri.path) is a Qiscus Multichannel endpoint Omnichat does not support (docs/qiscus-compatibility.md)"
                )
            case .notFound: (code, message) = ("not_found", "no route for \(request.method) \(request.uri.path)")
            case .contentTooLarge: (code, message) = ("too_large", "request body is too large")
            case .methodNotAllowed: (code, message) = ("method_not_allowed", "\(request.method) is not allowed here")
            case .badRequest: (code, message) = ("bad_request", "malformed request")
            default: (code, message) = ("http_\(error.status.code)", error.status.reasonPhrase)
            }
            return APIError(error.status, code, message).response()
        } catch {
            context.logger.error("unhandled error", metadata: ["omnichat.error": "\(String(reflecting: type(of: error)))"])
            return APIError(.internalServerError, "internal", "internal error").response()
        }
    }
}

/// JSON in and out, through `JSONSerialization`, so `null` is written where a
/// field is absent and request errors can name the field.
enum JSONBody {
    static func response(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func object(_ request: Request, limit: Int = 1 << 20) async throws -> [String: Any] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, "too_large", "request body is larger than \(limit) bytes")
        }
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("request body is empty; expected a JSON object") }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(buffer: buffer))) as? [String: Any] else {
            throw APIError.badRequest("request body is not a JSON object")
        }
        return object
    }

    static func null(_ value: Any?) -> Any { value ?? NSNull() }

    /// JSON `true`/`false` (on Linux, `1 is Bool` holds for any NSNumber, so look at its type code).
    static func isBool(_ value: Any?) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    /// A JSON integer (not a boolean, not a fraction).
    static func int(_ value: Any?) -> Int? {
        guard let number = value as? NSNumber, !isBool(number) else { return nil }
        let double = number.doubleValue
        guard double == double.rounded(), abs(double) < 1e15 else { return nil }
        return number.intValue
    }
}

extension Dictionary where Key == String, Value == Any {
    func string(_ key: String, required: Bool = true) throws -> String? {
        switch self[key] {
        case nil, is NSNull:
            if required { throw APIError.unprocessable("'\(key)' is required") }
            return nil
        case let value as String: return value
        default: throw APIError.unprocessable("'\(key)' must be a string")
        }
    }

    func bool(_ key: String) throws -> Bool {
        guard let value = self[key] else { throw APIError.unprocessable("'\(key)' is required") }
        guard JSONBody.isBool(value), let number = value as? NSNumber else {
            throw APIError.unprocessable("'\(key)' must be true or false")
        }
        return number.boolValue
    }
}
