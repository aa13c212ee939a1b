/// Stable error codes of SPEC.md: every receipt error and API refusal carries one.
public enum ErrorCode: String, Sendable, Codable, Hashable, CaseIterable {
    case unauthorized
    case unknownSigner = "unknown-signer"
    case badSignature = "bad-signature"
    case invalidTransaction = "invalid-transaction"
    case wrongChain = "wrong-chain"
    case invalidTaxId = "invalid-tax-id"
    case invalidDeclarationNumber = "invalid-declaration-number"
    case invalidCertificateNumber = "invalid-certificate-number"
    case duplicateCertificateNumber = "duplicate-certificate-number"
    case invalidLineNumber = "invalid-line-number"
    case invalidItemNumber = "invalid-item-number"
    case duplicateLine = "duplicate-line"
    case invalidHsCode = "invalid-hs-code"
    case invalidTradeMode = "invalid-trade-mode"
    case invalidCurrency = "invalid-currency"
    case invalidQuantity = "invalid-quantity"
    case invalidAmount = "invalid-amount"
    case invalidExchangeRate = "invalid-exchange-rate"
    case invalidDate = "invalid-date"
    case invalidPeriod = "invalid-period"
    case invalidField = "invalid-field"
    case invalidPublicKey = "invalid-public-key"
    case duplicateEnterprise = "duplicate-enterprise"
    case enterpriseNotFound = "enterprise-not-found"
    case duplicateDeclaration = "duplicate-declaration"
    case consignorNotTradeOperator = "consignor-not-trade-operator"
    case unitMismatch = "unit-mismatch"
    case duplicateApplication = "duplicate-application"
    case declarationNotFound = "declaration-not-found"
    case consignorMismatch = "consignor-mismatch"
    case declarationMismatch = "declaration-mismatch"
    case declarationItemCertified = "declaration-item-certified"
    case deadlinePassed = "deadline-passed"
    case applicationNotFound = "application-not-found"
    case applicationNotPending = "application-not-pending"
    case notCompetentBureau = "not-competent-bureau"
    case invalidDateOrder = "invalid-date-order"
    case certificateInUse = "certificate-in-use"
    case duplicateClaim = "duplicate-claim"
    case certificateNotFound = "certificate-not-found"
    case certificateRevoked = "certificate-revoked"
    case principalMismatch = "principal-mismatch"
    case certificateLineNotFound = "certificate-line-not-found"
    case missingExchangeRate = "missing-exchange-rate"
    case overConsumption = "over-consumption"
    case nonRefundableTradeMode = "non-refundable-trade-mode"
    case claimNotFound = "claim-not-found"
    case claimNotPending = "claim-not-pending"
}

/// Errors raised while decoding or validating model values (not receipts).
public enum ModelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes end before the value does.
    case truncated
    /// A length or count exceeds its limit.
    case limitExceeded(String)
    /// A value is malformed (bad tag, bad UTF-8, trailing bytes, unknown kind...).
    case malformed(String)

    /// A sentence a person can act on.
    public var description: String {
        switch self {
        case .truncated: return "input ends before the encoded value is complete"
        case .limitExceeded(let what): return "limit exceeded: \(what)"
        case .malformed(let what): return "malformed encoding: \(what)"
        }
    }
}
