import DriveModel
import DriveStorage
import Foundation
import Hummingbird

/// `/profile/`: the caller's profile. `GET` answers it; `PUT` changes the fields it carries
/// (`clone_naming` names clones made without a name, reference §3.9.1; the others are stored and
/// echoed); any other method is 405, as the real API answers `DELETE /profile/`.
struct ProfileController {
    let accounts: any AccountRepository
    let settings: APISettings

    func register(on group: RouterGroup<DrivesRequestContext>) {
        let accounts = self.accounts
        let limit = settings.bodyLimit
        let schema = Document(StaticDocuments.profileSchema)
        group.resource("profile/schema", get: { _, _ in schema.response })
        group.resource(
            "profile",
            get: { _, context in
                let user = try context.requireUser()
                return .json(try await accounts.profile(userUUID: user.uuid).json(user: user))
            },
            put: { request, context in
                let user = try context.requireUser()
                guard let body = try await request.jsonBody(limit: limit) else {
                    throw CloudSigmaError.validation(nil, "The request body must be a JSON object of profile fields")
                }
                guard let fields = body.objectValue else {
                    throw CloudSigmaError.validation(nil, "The request body must be a JSON object of profile fields")
                }
                return .json(try await accounts.updateProfile(user: user, body: fields).json(user: user))
            })
    }
}
