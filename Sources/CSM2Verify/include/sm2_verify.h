#ifndef CERTCHAIN_SM2_VERIFY_H
#define CERTCHAIN_SM2_VERIFY_H
#include <stddef.h>

/// SM2 signature verification (GB/T 32918.2, SM3, ID 1234567812345678) on OpenSSL's point arithmetic. A key that
/// has verified `cc_sm2_table_after_verifications` signatures gets a fixed-base comb table of its point (about
/// 0.9 MB, built once in about 3 ms); with it and the generator's table, s·G + t·P costs about 75 point additions
/// instead of OpenSSL's 256 doublings and ~100 additions (about 4× faster). Other keys use OpenSSL's multiplication.

/// The verification state of one SM2 public key: its point, its Z digest, and its comb table once built.
typedef struct cc_sm2_key cc_sm2_key;

/// Builds the state of the 65-byte uncompressed point 04||X||Y; NULL when it is not a point on the SM2 curve.
cc_sm2_key *cc_sm2_key_new(const unsigned char *point, size_t point_len);
/// Frees a key state and its table (NULL is ignored). No verification may be running with it.
void cc_sm2_key_free(cc_sm2_key *key);
/// 1 when `sig` (strict DER r,s) is a valid SM2 signature by `key` over `msg`; 0 otherwise, malformed input
/// included. Thread-safe; the call that brings the key to the threshold builds its table first.
int cc_sm2_verify(cc_sm2_key *key, const unsigned char *sig, size_t sig_len, const unsigned char *msg, size_t msg_len);
/// 1 when the key's comb table is built.
int cc_sm2_key_has_table(const cc_sm2_key *key);
/// Verifications of one key before its table is built.
extern const int cc_sm2_table_after_verifications;
/// How many key tables may be alive at once in the process (memory stays bounded; first come, first served).
extern const int cc_sm2_tables_max;
/// Key tables alive now.
int cc_sm2_tables_alive(void);
#endif
