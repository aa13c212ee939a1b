import CertChainModel
import CertChainNode
import Foundation

/// `certchain verify FILE --genesis genesis.json`: checks a saved `?proof=true` answer offline against genesis alone.
/// Prints what it proves and returns 0, or prints why it fails and returns 1.
func verifyCommand(_ arguments: Arguments) throws -> Int32 {
    guard let path = arguments.positional.first else { throw CLIError(description: "verify needs a proof FILE", usage: true) }
    let genesis = try loadGenesis(arguments)
    guard let data = FileManager.default.contents(atPath: path) else { throw CLIError(description: "cannot read \(path)") }
    let verdict = ProofVerifier.verify(document: Array(data), genesis: genesis)
    if verdict.valid {
        print("VALID: \(verdict.statement)")
        return 0
    }
    print("INVALID: \(verdict.statement)")
    return 1
}
