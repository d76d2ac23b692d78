import DriveModel
import DriveStorage
import Foundation
import Hummingbird

/// Named states: the whole environment, or one account's, saved under a name and loaded back
/// while the daemon runs.
///
/// - `POST /_drivesd/states` `{"name", "account"?, "replace"?}` → 201 the state's description
///   (409 when the name is in use and `replace` is not true; 404 for an unknown account)
/// - `GET /_drivesd/states` → `{"objects": [descriptions]}`, by name
/// - `GET /_drivesd/states/{name}` → one description, or 404
/// - `POST /_drivesd/states/{name}/load` → 200 `{"state", "deleted", "updated", "inserted", "duration_ms"}`;
///   409 with the conflicting uuids when another account holds some of a per-account state's
/// - `DELETE /_drivesd/states/{name}` → 204, or 404
extension AdminController {
    func registerStates(on admin: RouterGroup<DrivesRequestContext>) {
        admin.resource("states", get: listStates, post: saveState)
        admin.resource("states/:name", get: getState, delete: deleteState)
        admin.resource("states/:name/load", post: loadState)
    }

    static func stateJSON(_ state: SavedState) -> JSONValue {
        .object([
            "name": .string(state.name),
            "scope": .string(state.account == nil ? "all" : "account"),
            "account": state.account.map { uuid in
                .object(["uuid": .string(uuid), "email": state.accountEmail.map(JSONValue.string) ?? .null])
            } ?? .null,
            "created": .string(state.created),
            "drives": .int(Int64(state.drives)), "servers": .int(Int64(state.servers)),
            "snapshots": .int(Int64(state.snapshots)),
            "logical_bytes": .int(state.logicalBytes), "stored_bytes": .int(state.storedBytes),
        ])
    }

    @Sendable func saveState(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let body = try await request.jsonBody(limit: api.settings.bodyLimit)
        guard case .string(let name)? = body?["name"] else { throw CloudSigmaError.validation("name", "This field is required") }
        var account: String?
        switch body?["account"] {
        case nil, .null?: break
        case .string(let value)?: account = value
        default: throw CloudSigmaError.validation("account", "account must be a uuid or an email")
        }
        var replace = false
        switch body?["replace"] {
        case nil, .null?: break
        case .bool(let value)?: replace = value
        default: throw CloudSigmaError.validation("replace", "replace must be true or false")
        }
        let state = try await api.stores.states.save(name: name, account: account, replace: replace, now: Date())
        return .json(Self.stateJSON(state), status: .created)
    }

    @Sendable func listStates(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        .json(.object(["objects": .array(try await api.stores.states.list().map(Self.stateJSON))]))
    }

    @Sendable func getState(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        guard let state = try await api.stores.states.state(named: name) else {
            throw CloudSigmaError(.notexist, point: "name", "No state named \(name)")
        }
        return .json(Self.stateJSON(state))
    }

    /// Deletes the state `name`; 404 when there is none (the admin API's and the console's delete).
    func deleteState(named name: String) async throws {
        guard try await api.stores.states.delete(name: name) else {
            throw CloudSigmaError(.notexist, point: "name", "No state named \(name)")
        }
    }

    @Sendable func deleteState(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        try await deleteState(named: try context.parameters.require("name"))
        return Response(status: .noContent)
    }

    /// Loads the state `name` (the admin API's and the console's load).
    func loadState(named name: String) async throws -> StateLoadResult {
        let result = try await api.stores.states.load(name: name, now: Date())
        // A whole-daemon load may have replaced accounts and their credentials.
        api.authenticator.invalidate()
        return result
    }

    @Sendable func loadState(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        let started = ContinuousClock.now
        let result = try await loadState(named: name)
        let ms = (ContinuousClock.now - started).seconds * 1000
        return .json(
            .object([
                "state": Self.stateJSON(result.state), "deleted": .int(Int64(result.deleted)),
                "updated": .int(Int64(result.updated)), "inserted": .int(Int64(result.inserted)),
                "duration_ms": .double((ms * 1000).rounded() / 1000),
            ]))
    }
}
