import ArgumentParser
import NIOSSL

enum TLSFiles {
    /// A server configuration from a PEM certificate chain (the server's first) and its PEM
    /// private key; a file that does not parse stops the start with its path named.
    static func serverConfiguration(certificate: String, key: String) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificate)
        } catch {
            throw ValidationError("http.tls.certificate: \(certificate) is not a PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw ValidationError("http.tls.certificate: \(certificate) holds no certificate") }
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        } catch {
            throw ValidationError("http.tls.key: \(key) is not a PEM private key (\(error))")
        }
        return TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
    }
}
