import CertChainModel
import CertChainNode
import Foundation

/// `certchain verify FILE --genesis genesis.json`: checks a saved `?proof=true` answer offline against genesis alone.
/// Prints what it proves and returns 0, or prints why it fails and returns 1; exit status 2 for a usage error or an
/// input that cannot be read (the proof file, or a missing or unusable genesis), as `scripts/verify.py`.
func verifyCommand(_ arguments: Arguments) throws -> Int32 {
    guard let path = arguments.positional.first else { throw CLIError(description: "verify needs a proof FILE", usage: true) }
    guard arguments.positional.count == 1 else {
        let extra = arguments.positional.dropFirst().joined(separator: " ")
        throw CLIError(description: "verify checks one proof FILE; unexpected argument(s): \(extra)", usage: true)
    }
    let genesis: Genesis
    do {
        genesis = try loadGenesis(arguments)
    } catch var error as CLIError {
        if !error.usage { error.status = 2 }
        throw error
    }
    let data = try fileBytes(path, what: "proof file", status: 2)
    let verdict = ProofVerifier.verify(document: Array(data), genesis: genesis)
    if verdict.valid {
        print("VALID: \(verdict.statement)")
        return 0
    }
    print("INVALID: \(verdict.statement)")
    return 1
}
