#!/usr/bin/env python3
"""Independent verifier of certchain proof documents (docs/PROOFS.md).

usage: scripts/verify.py PROOF.json genesis.json

Checks a saved `?proof=true` answer against genesis alone (validator keys, quorum, chain id, suite),
with no network. Prints `VALID: …` and exits 0, or `INVALID: …` and exits 1; exits 2 for a usage error or
an input it cannot read (proof or genesis file, missing Python package), as `certchain verify` does.

Needs Python 3 standard library, `gmssl` (SM2/SM3, `pip install gmssl`) for suite sm2-sm3, and
`cryptography` (Ed25519) for suite ed25519-sha256.
"""

import hashlib
import json
import sys
from decimal import Decimal, ROUND_HALF_UP, localcontext, InvalidOperation


class Invalid(Exception):
    pass


def require(cond, reason):
    if not cond:
        raise Invalid(reason)


# ---------------------------------------------------------------- hashing and signatures

SM2_N = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)


def make_hash(suite):
    if suite == "sm2-sm3":
        from gmssl import sm3

        return lambda data: bytes.fromhex(sm3.sm3_hash(list(data)))
    if suite == "ed25519-sha256":
        return lambda data: hashlib.sha256(data).digest()
    raise Invalid("unknown suite %s" % suite)


def der_integer(b, i):
    """Strict DER INTEGER at b[i]: minimal length and content, positive. Returns (value, next index)."""
    require(i + 2 <= len(b) and b[i] == 0x02, "signature: DER integer expected")
    n = b[i + 1]
    require(n < 0x80 and 1 <= n <= 33 and i + 2 + n <= len(b), "signature: bad DER integer length")
    v = b[i + 2:i + 2 + n]
    require(v[0] & 0x80 == 0, "signature: negative DER integer")
    require(not (n > 1 and v[0] == 0 and v[1] & 0x80 == 0), "signature: non-minimal DER integer")
    return int.from_bytes(v, "big"), i + 2 + n


def sm2_verify(public_key, signature, message):
    """SM2 with SM3 and the default ID 1234567812345678 (Z value), signature DER SEQUENCE { r, s }."""
    from gmssl import sm2

    require(len(public_key) == 65 and public_key[0] == 4, "SM2 public key must be 65 bytes 04||X||Y")
    s = signature
    require(len(s) >= 8 and s[0] == 0x30 and s[1] < 0x80 and s[1] == len(s) - 2, "signature: bad DER sequence")
    r_val, i = der_integer(s, 2)
    s_val, i = der_integer(s, i)
    require(i == len(s), "signature: trailing bytes in DER")
    if not (1 <= r_val < SM2_N and 1 <= s_val < SM2_N):
        return False
    # CryptSM2 strips a leading "04" from the key hex; pass X||Y directly.
    crypt = sm2.CryptSM2(private_key=None, public_key=public_key[1:].hex())
    return bool(crypt.verify_with_sm3("%064x%064x" % (r_val, s_val), message))


def ed25519_verify(public_key, signature, message):
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.exceptions import InvalidSignature
    except ImportError:
        raise Invalid("suite ed25519-sha256 needs the Python package `cryptography`, which is not installed")
    require(len(public_key) == 32, "Ed25519 public key must be 32 bytes")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


# ---------------------------------------------------------------- canonical encoding

def u32(n):
    return n.to_bytes(4, "big")


def u64(n):
    require(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2 ** 64, "u64 out of range: %r" % (n,))
    return n.to_bytes(8, "big")


def i64(n):
    require(isinstance(n, int) and not isinstance(n, bool) and -2 ** 63 <= n < 2 ** 63, "i64 out of range: %r" % (n,))
    return n.to_bytes(8, "big", signed=True)


def bstr(b):
    return u32(len(b)) + b


def sstr(s):
    require(isinstance(s, str), "string expected, got %r" % (s,))
    return bstr(s.encode("utf-8"))


def unhex(text, what):
    require(isinstance(text, str) and len(text) % 2 == 0 and all(c in "0123456789abcdef" for c in text),
            "%s is not lowercase hex" % what)
    return bytes.fromhex(text)


class Reader:
    def __init__(self, b):
        self.b, self.i = b, 0

    def take(self, n):
        require(self.i + n <= len(self.b), "truncated canonical bytes")
        out = self.b[self.i:self.i + n]
        self.i += n
        return out

    def u8(self):
        return self.take(1)[0]

    def boolean(self):
        v = self.u8()
        require(v in (0, 1), "bad bool")
        return v == 1

    def u32(self):
        return int.from_bytes(self.take(4), "big")

    def u64(self):
        return int.from_bytes(self.take(8), "big")

    def i64(self):
        return int.from_bytes(self.take(8), "big", signed=True)

    def bytestring(self):
        return self.take(self.u32())

    def string(self):
        try:
            return self.bytestring().decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("invalid UTF-8 in canonical string")

    def opt_string(self):
        return self.string() if self.boolean() else None

    def array(self, element):
        n = self.u32()
        require(n <= len(self.b) - self.i, "array longer than its bytes")
        return [element() for _ in range(n)]

    def finish(self):
        require(self.i == len(self.b), "trailing bytes")


def header_bytes(h):
    return (sstr("certchain/block/v1") + sstr(h["chainId"]) + u64(h["height"]) + bstr(unhex(h["previousHash"], "previousHash"))
            + i64(h["timestampMs"]) + u64(h["view"]) + sstr(h["proposer"]) + bstr(unhex(h["txRoot"], "txRoot"))
            + bstr(unhex(h["receiptRoot"], "receiptRoot")) + bstr(unhex(h["stateRoot"], "stateRoot")))


def commit_signing_bytes(chain_id, height, block_hash):
    return sstr("certchain/commit/v1") + sstr(chain_id) + u64(height) + bstr(block_hash)


def decode_receipt(b):
    """Canonical receipt bytes -> the API's JSON form."""
    r = Reader(b)
    out = {"txHash": r.bytestring().hex()}
    tag = r.u8()
    if tag == 0:
        out["ok"] = True
        if r.boolean():
            refund = {"method": r.string()}

            def line():
                d = {"certificateNumber": r.string(), "lineNo": r.i64(), "quantity": r.string(), "fob": r.string(),
                     "fobCny": r.string(), "refundRate": r.string()}
                for k in ("exemptCreditRefund", "nonCreditable", "refund"):
                    v = r.opt_string()
                    if v is not None:
                        d[k] = v
                return d

            refund["lines"] = r.array(line)
            for k in ("exemptCreditRefund", "nonCreditable"):
                v = r.opt_string()
                if v is not None:
                    refund[k] = v
            refund["refund"] = r.string()
            refund["exemptCredit"] = r.string()
            out["refund"] = refund
    elif tag == 1:
        out["error"] = r.string()
        out["message"] = r.string()
    else:
        raise Invalid("bad receipt tag")
    r.finish()
    return out


# ---------------------------------------------------------------- Merkle trees

def merkle_verify(H, leaf, index, count, path, root):
    """RFC 9162 section 2.1.3.2 with leaf = H(0x00||data), node = H(0x01||l||r)."""
    if not (isinstance(index, int) and isinstance(count, int) and 0 <= index < count):
        return False
    fn, sn = index, count - 1
    r = H(b"\x00" + leaf)
    for p in path:
        if sn == 0:
            return False
        if fn & 1 == 1 or fn == sn:
            r = H(b"\x01" + p + r)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = H(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def bucket_of(H, key):
    h = H(key.encode("utf-8"))
    return h[0] << 8 | h[1]


def state_proof_verify(H, proof, key, value, state_root):
    require(set(proof) == {"key", "bucket", "entries", "path"}, "state proof fields")
    require(proof["key"] == key, "state proof is for %r, not %r" % (proof["key"], key))
    b = bucket_of(H, key)
    require(proof["bucket"] == b and isinstance(proof["bucket"], int), "wrong bucket for %s" % key)
    data, previous, found = b"", None, None
    for e in proof["entries"]:
        require(set(e) == {"key", "valueHash"}, "state entry fields")
        kb = e["key"].encode("utf-8")
        require(previous is None or previous < kb, "bucket entries not sorted")
        previous = kb
        require(bucket_of(H, e["key"]) == b, "entry %s is not in bucket %d" % (e["key"], b))
        vh = unhex(e["valueHash"], "valueHash")
        if e["key"] == key:
            found = vh
        data += bstr(kb) + vh
    require(found is not None and found == H(value), "the value of %s does not match its bucket entry" % key)
    path = [unhex(p, "state path") for p in proof["path"]]
    require(merkle_verify(H, H(data), b, 65536, path, state_root), "the value of %s is not under the state root" % key)


# ---------------------------------------------------------------- blocks and transactions

class Context:
    def __init__(self, genesis):
        self.genesis = genesis
        self.chain_id = genesis["chainId"]
        self.suite = genesis["suite"]
        self.H = make_hash(self.suite)
        self.validators = {v["id"]: bytes.fromhex(v["publicKey"]) for v in genesis["validators"]}
        n = len(genesis["validators"])
        f = (n - 1) // 3
        self.quorum = (n + f) // 2 + 1

    def verify_signature(self, key, sig, msg):
        memo = (self.suite, key, sig, msg)  # a verdict depends only on these: safe to reuse across documents
        if memo not in SIGNATURE_VERDICTS:
            SIGNATURE_VERDICTS[memo] = sm2_verify(key, sig, msg) if self.suite == "sm2-sm3" else ed25519_verify(key, sig, msg)
        return SIGNATURE_VERDICTS[memo]


SIGNATURE_VERDICTS = {}


def check_block(ctx, block):
    require(set(block) == {"header", "hash", "commitCertificate"}, "block fields")
    h = block["header"]
    require(set(h) == {"chainId", "height", "previousHash", "timestampMs", "view", "proposer", "txRoot", "receiptRoot", "stateRoot"},
            "header fields")
    require(h["chainId"] == ctx.chain_id, "block is of chain %r" % h["chainId"])
    require(h["proposer"] in ctx.validators, "proposer %r is not a validator" % h["proposer"])
    block_hash = ctx.H(header_bytes(h))
    require(block_hash.hex() == block["hash"], "block %s: header does not hash to %s" % (h["height"], block["hash"]))
    c = block["commitCertificate"]
    require(set(c) == {"height", "blockHash", "signatures"}, "commit certificate fields")
    require(c["height"] == h["height"] and isinstance(c["height"], int), "commit certificate height differs from the header")
    require(c["blockHash"] == block["hash"], "commit certificate signs another block")
    msg = commit_signing_bytes(ctx.chain_id, h["height"], block_hash)
    signers = []
    for s in c["signatures"]:
        require(set(s) == {"validator", "signature"}, "signature fields")
        v = s["validator"]
        require(v in ctx.validators, "block signed by %r, not a validator in genesis" % v)
        require(v not in signers, "two signatures of %s" % v)
        require(ctx.verify_signature(ctx.validators[v], unhex(s["signature"], "signature"), msg),
                "block %d: %s's commit signature does not verify" % (h["height"], v))
        signers.append(v)
    require(len(signers) >= ctx.quorum, "block %d has %d signatures, %d needed" % (h["height"], len(signers), ctx.quorum))
    return {"height": h["height"], "hash": block_hash, "signers": signers, "header": h}


def check_transaction(ctx, t):
    require(set(t) == {"txHash", "transaction", "height", "index", "txCount", "txPath", "receipt", "receiptPath", "block"},
            "transaction proof fields")
    block = check_block(ctx, t["block"])
    require(t["height"] == block["height"] and isinstance(t["height"], int), "transaction height differs from its block")
    tx = unhex(t["transaction"], "transaction bytes")
    tx_id = ctx.H(tx)
    require(tx_id.hex() == t["txHash"], "transaction bytes do not hash to %s" % t["txHash"])
    r = Reader(tx)
    require(r.string() == "certchain/tx/v1", "transaction tag")
    require(r.string() == ctx.chain_id, "transaction of another chain")
    kind, signer = r.string(), r.string()
    r.u64()
    effective_date = r.string()
    h = block["header"]
    index, count = t["index"], t["txCount"]
    require(not isinstance(index, bool) and not isinstance(count, bool), "index/txCount must be integers")
    require(merkle_verify(ctx.H, tx_id, index, count, [unhex(p, "txPath") for p in t["txPath"]], unhex(h["txRoot"], "txRoot")),
            "transaction %s is not at index %r of block %d" % (t["txHash"], index, block["height"]))
    receipt_bytes = unhex(t["receipt"], "receipt")
    receipt = decode_receipt(receipt_bytes)
    require(receipt["txHash"] == t["txHash"], "receipt of another transaction")
    require(merkle_verify(ctx.H, receipt_bytes, index, count, [unhex(p, "receiptPath") for p in t["receiptPath"]],
                          unhex(h["receiptRoot"], "receiptRoot")),
            "the receipt of %s is not under block %d's receiptRoot" % (t["txHash"], block["height"]))
    ref = {"txHash": t["txHash"], "kind": kind, "height": t["height"], "index": index, "effectiveDate": effective_date, "signer": signer}
    return ref, receipt, block


def check_state(ctx, state):
    require(isinstance(state, dict) and set(state) == {"block", "values"}, "state proof missing or malformed")
    block = check_block(ctx, state["block"])
    root = unhex(block["header"]["stateRoot"], "stateRoot")
    values, keys = {}, []
    for v in state["values"]:
        require(set(v) == {"key", "value", "proof"}, "state value fields")
        require(v["key"] not in values, "state key twice")
        raw = unhex(v["value"], "state value")
        state_proof_verify(ctx.H, v["proof"], v["key"], raw, root)
        try:
            values[v["key"]] = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise Invalid("state value of %s is not JSON" % v["key"])
        keys.append(v["key"])
    return values, keys, block


# ---------------------------------------------------------------- answers derived from proven records

def dec(s):
    require(isinstance(s, str), "decimal string expected")
    try:
        return Decimal(s)
    except InvalidOperation:
        raise Invalid("not a decimal: %r" % s)


def fmt(d, scale):
    q = d.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    if q == 0:
        q = abs(q)
    return format(q, "f")


def utf8_sorted(keys):
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def certificate_view(c):
    """The API's certificate answer from the stored record (Ledger.certificate(number:in:))."""
    with localcontext() as ctx:
        ctx.prec = 100
        qty, fob, lines = {}, {}, []
        for r in c["lines"]:
            l = r["line"]
            qty[l["unit"]] = qty.get(l["unit"], Decimal(0)) + dec(l["quantity"])
            fob[l["currency"]] = fob.get(l["currency"], Decimal(0)) + dec(l["fob"])
            remaining = dec(l["quantity"]) - dec(r["reserved"]) - dec(r["consumed"])
            v = {k: l[k] for k in ("lineNo", "declarationNo", "itemNo", "exportDate", "tradeMode", "hsCode", "goodsName", "unit",
                                   "quantity", "currency", "fob", "contractNo")}
            if l.get("verificationFormNo") is not None:
                v["verificationFormNo"] = l["verificationFormNo"]
            v["claimPending"] = fmt(dec(r["reserved"]), 4)
            v["consumed"] = fmt(dec(r["consumed"]), 4)
            v["remaining"] = fmt(remaining, 4)
            lines.append(v)
        if c["revoked"]:
            status = "revoked"
        elif all(dec(r["line"]["quantity"]) == dec(r["consumed"]) for r in c["lines"]):
            status = "consumed"
        elif any(dec(r["consumed"]) > 0 for r in c["lines"]):
            status = "partiallyConsumed"
        else:
            status = "issued"
        view = {
            "certificateNumber": c["certificateNumber"], "status": status, "applicationId": c["applicationId"],
            "bureau": c["bureau"], "agent": {"taxId": c["agentTaxId"], "name": c["agentName"]},
            "principal": {"taxId": c["principalTaxId"], "name": c["principalName"]},
            "handler": c["handler"], "handledOn": c["handledOn"], "reviewer": c["reviewer"], "reviewedOn": c["reviewedOn"],
            "lines": lines,
            "quantityTotals": [{"unit": u, "total": fmt(qty[u], 4)} for u in utf8_sorted(qty)],
            "fobTotals": [{"currency": k, "total": fmt(fob[k], 2)} for k in utf8_sorted(fob)],
            "issuedAt": c["issued"],
        }
        if c.get("revocationReason") is not None:
            view["revocationReason"] = c["revocationReason"]
        return view


def history_entries(values, number):
    """Ledger.history(certificateNumber:in:): declarations, application, then the certificate's own history."""
    c = values["cert/" + number]
    refs, seen_decl = [], set()
    for l in c["lines"]:
        no = l["line"]["declarationNo"]
        if no not in seen_decl:
            seen_decl.add(no)
            d = values.get("decl/" + no)
            if d is not None:
                refs.append(d["recorded"])
    app = values.get("app/" + c["applicationId"])
    if app is not None:
        refs.append(app["applied"])
    refs.extend(c["history"])
    seen, out = set(), []
    for r in refs:
        if r["txHash"] not in seen:
            seen.add(r["txHash"])
            out.append(r)
    return sorted(out, key=lambda r: (r["height"], r["index"]))


def finality(b):
    return "final as of height %d, block hash %s, signed by %s" % (b["height"], b["hash"].hex(), ", ".join(b["signers"]))


def check_document(doc, genesis):
    ctx = Context(genesis)
    require(isinstance(doc, dict), "not a JSON object")
    require(set(doc) - {"state"} == {"format", "type", "chainId", "suite", "answer", "transactions"}, "document fields")
    require(doc["format"] == "certchain-proof/v1", "unknown format %r" % doc["format"])
    require(doc["chainId"] == ctx.chain_id, "proof for chain %r, genesis is %r" % (doc["chainId"], ctx.chain_id))
    require(doc["suite"] == ctx.suite, "proof says suite %r, genesis uses %r" % (doc["suite"], ctx.suite))
    answer, kind, txs = doc["answer"], doc["type"], doc["transactions"]
    require(isinstance(txs, list), "transactions must be a list")
    if kind == "certificate":
        values, keys, block = check_state(ctx, doc.get("state"))
        require(len(keys) == 1 and keys[0].startswith("cert/"), "a certificate proof carries exactly one cert/ value")
        number = keys[0][5:]
        record = values[keys[0]]
        view = certificate_view(record)
        require(view["certificateNumber"] == number, "record number differs from its key")
        require(strict_equal_types(answer, view), "the answer differs from the proven certificate record")
        require(len(txs) == len(record["history"]), "transaction proofs do not match the record's history")
        for t, ref in zip(txs, record["history"]):
            got, _, _ = check_transaction(ctx, t)
            require(got == ref, "transaction %s does not match the record" % ref.get("txHash"))
            require(got["height"] <= block["height"], "transaction newer than the state block")
        return "certificate %s is %s, %s; issued by transaction %s (%s, block %d); %d recorded transaction(s) with receipts proven" % (
            number, view["status"], finality(block), record["issued"]["txHash"], record["issued"]["kind"], record["issued"]["height"], len(txs))
    if kind == "history":
        values, keys, block = check_state(ctx, doc.get("state"))
        require(keys and keys[0].startswith("cert/"), "a history proof starts with the cert/ value")
        number = keys[0][5:]
        c = values[keys[0]]
        needed = ["cert/" + number, "app/" + c["applicationId"]]
        for l in c["lines"]:
            k = "decl/" + l["line"]["declarationNo"]
            if k not in needed:
                needed.append(k)
        require(keys == needed, "the history proof must carry exactly %s" % ", ".join(needed))
        entries = history_entries(values, number)
        require(strict_equal_types(answer, {"certificateNumber": number, "entries": entries}), "the answer differs from the history derived from the proven records")
        require(len(txs) == len(entries), "one transaction proof per history entry")
        for t, e in zip(txs, entries):
            got, _, _ = check_transaction(ctx, t)
            require(got == e, "transaction %s does not match its history entry" % e.get("txHash"))
        return "certificate %s has %d history entries (%s), each transaction and receipt proven in its block; complete as of height %d, block hash %s, signed by %s" % (
            number, len(entries), ", ".join(e["kind"] for e in entries), block["height"], block["hash"].hex(), ", ".join(block["signers"]))
    if kind == "transaction":
        require("state" not in doc and len(txs) == 1, "a transaction proof carries one transaction and no state")
        ref, receipt, block = check_transaction(ctx, txs[0])
        expected = {"txHash": ref["txHash"], "status": "committed", "height": ref["height"], "index": ref["index"], "receipt": receipt}
        require(strict_equal_types(answer, expected), "the answer differs from the proven transaction and receipt")
        outcome = ("ok" + (", refund " + receipt["refund"]["refund"] if "refund" in receipt else "")) if receipt.get("ok") else "rejected with " + receipt["error"]
        return "transaction %s (%s by %s) is committed at height %d, index %d, receipt %s; %s" % (
            ref["txHash"], ref["kind"], ref["signer"], ref["height"], ref["index"], outcome, finality(block))
    raise Invalid("unknown proof type %r" % (kind,))


def strict_equal_types(a, b):
    """JSON equality that also tells booleans from numbers (Python's True == 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(strict_equal_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(strict_equal_types(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def unique_keys(pairs):
    """object_pairs_hook for json.loads: the object as a dict, refusing a key written twice (json.loads keeps the last)."""
    out = {}
    for key, value in pairs:
        require(key not in out, "the key %s appears twice in one JSON object (a proof never repeats a key)" % json.dumps(key, ensure_ascii=False))
        out[key] = value
    return out


def reason(error):
    """An OSError as `certchain` words it: "no such file or directory"."""
    text = error.strerror or str(error)
    return text[:1].lower() + text[1:]


def verify_file(path, genesis):
    """(status, statement) for one proof file: 0 valid, 1 invalid (read but does not verify), 2 unreadable."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return 2, "cannot read %s: %s" % (path, reason(e))
    not_a_proof = 'not a certchain proof (expected a JSON document with "format": "certchain-proof/v1")'
    if not data:
        return 1, "the document is empty"
    try:
        try:
            doc = json.loads(data.decode("utf-8"), object_pairs_hook=unique_keys)
        except ValueError:
            # As `certchain verify`: text that starts like a JSON object is a damaged proof; anything else is not a proof.
            if data.lstrip(b" \t\r\n")[:1] != b"{" and not data.startswith(b"\xef\xbb\xbf"):
                return 1, not_a_proof
            raise
        if not isinstance(doc, dict) or "format" not in doc:
            return 1, not_a_proof
        return 0, check_document(doc, genesis)
    except Invalid as e:
        return 1, str(e)
    except RecursionError:
        return 1, "malformed proof document: nested too deeply"
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, UnicodeDecodeError) as e:
        return 1, "malformed proof document: %s: %s" % (type(e).__name__, e)


def main(argv):
    # scripts/verify.py PROOF.json genesis.json
    # scripts/verify.py --each genesis.json PROOF.json...   (one "VALID|INVALID path: …" line per file read)
    # Exit status (as `certchain verify`): 0 every proof is valid, 1 a proof does not verify,
    # 2 usage error or unreadable input (a proof or genesis file that cannot be read, a missing Python package).
    each = len(argv) >= 3 and argv[1] == "--each"
    if (each and len(argv) < 4) or (not each and len(argv) != 3):
        print("usage: scripts/verify.py PROOF.json genesis.json | --each genesis.json PROOF.json...", file=sys.stderr)
        return 2
    genesis_path, files = (argv[2], argv[3:]) if each else (argv[2], [argv[1]])
    try:
        with open(genesis_path, "rb") as f:
            genesis = json.load(f)
        require(isinstance(genesis, dict) and all(k in genesis for k in ("chainId", "suite", "validators")),
                "missing field chainId, suite or validators")
        require(isinstance(genesis["validators"], list) and all(isinstance(v, dict) and "id" in v and "publicKey" in v
                                                                for v in genesis["validators"]), "validators must be a list of {id, publicKey}")
        make_hash(genesis["suite"])
        if genesis["suite"] == "ed25519-sha256":
            import cryptography  # noqa: F401 (checked here so that a missing package is a setup error, not an invalid proof)
    except OSError as e:
        print("cannot read %s: %s" % (genesis_path, reason(e)), file=sys.stderr)
        return 2
    except (ValueError, KeyError, TypeError, Invalid) as e:
        print("%s is not a valid genesis file: %s" % (genesis_path, e), file=sys.stderr)
        return 2
    except ImportError as e:
        print("cannot verify: %s (pip install gmssl cryptography)" % e, file=sys.stderr)
        return 2
    worst = 0
    for path in files:
        status, statement = verify_file(path, genesis)
        worst = max(worst, status)
        if status == 2:
            print(statement, file=sys.stderr)
        else:
            print(("VALID" if status == 0 else "INVALID") + (" %s" % path if each else "") + ": " + statement)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv))
