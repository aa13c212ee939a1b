// SM2 verification with comb tables; see include/sm2_verify.h. The equation and the checks are those of OpenSSL's
// ossl_sm2_internal_verify (crypto/sm2/sm2_sign.c); only the scalar multiplication differs.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "sm2_verify.h"
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { GENERATOR_WINDOW_BITS = 8, KEY_WINDOW_BITS = 6, SCALAR_BITS = 256 };
const int cc_sm2_tables_max = 48;
const int cc_sm2_table_after_verifications = 32;
static atomic_int tables_alive;

/// A comb table: points[i * (2^w - 1) + (d - 1)] = d · 2^(w·i) · P, all affine.
typedef struct {
    int window_bits;
    int blocks;
    EC_POINT **points;
} comb;

/// A key's comb table.
typedef struct {
    comb comb;
} key_table;

struct cc_sm2_key {
    EC_POINT *point;
    unsigned char z[32];
    atomic_int verifications;
    atomic_int building;
    _Atomic(key_table *) table;
};

static EC_GROUP *group;
static BIGNUM *order;
static comb generator_comb;
static int ready;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void comb_free(comb *c) {
    if (c->points == NULL) return;
    int per_block = (1 << c->window_bits) - 1;
    for (int i = 0; i < c->blocks * per_block; i++) EC_POINT_free(c->points[i]);
    free(c->points);
    c->points = NULL;
}

/// Fills `c` for `base`; 1 on success.
static int comb_build(comb *c, const EC_POINT *base, int window_bits, BN_CTX *ctx) {
    int per_block = (1 << window_bits) - 1;
    c->window_bits = window_bits;
    c->blocks = (SCALAR_BITS + window_bits - 1) / window_bits;
    size_t count = (size_t)c->blocks * per_block;
    c->points = calloc(count, sizeof(EC_POINT *));
    if (c->points == NULL) return 0;
    EC_POINT *block_base = EC_POINT_dup(base, group);
    int ok = block_base != NULL;
    for (int i = 0; ok && i < c->blocks; i++) {
        EC_POINT **row = c->points + (size_t)i * per_block;
        for (int d = 0; ok && d < per_block; d++) {
            row[d] = d == 0 ? EC_POINT_dup(block_base, group) : EC_POINT_new(group);
            ok = row[d] != NULL && (d == 0 || EC_POINT_add(group, row[d], row[d - 1], block_base, ctx) == 1);
        }
        for (int k = 0; ok && k < window_bits; k++) ok = EC_POINT_dbl(group, block_base, block_base, ctx) == 1;
    }
    EC_POINT_free(block_base);
    // Affine points make each later addition a cheaper mixed one.
    ok = ok && EC_POINTs_make_affine(group, count, c->points, ctx) == 1;
    if (!ok) comb_free(c);
    return ok;
}

/// acc += k · P from P's comb table (k < 2^256).
static int comb_add_multiple(const comb *c, EC_POINT *acc, const BIGNUM *k, BN_CTX *ctx) {
    // The scalar's bytes, little-endian with a zero byte of slack: digits are read with shifts, not BN calls.
    unsigned char bytes[SCALAR_BITS / 8 + 2] = {0};
    if (BN_num_bits(k) > SCALAR_BITS || BN_bn2lebinpad(k, bytes, SCALAR_BITS / 8) != SCALAR_BITS / 8) return 0;
    int per_block = (1 << c->window_bits) - 1;
    for (int i = 0; i < c->blocks; i++) {
        int bit = i * c->window_bits;
        int digit = ((bytes[bit / 8] | (bytes[bit / 8 + 1] << 8)) >> (bit % 8)) & per_block;
        if (digit != 0 && EC_POINT_add(group, acc, acc, c->points[(size_t)i * per_block + digit - 1], ctx) != 1) return 0;
    }
    return 1;
}

static void setup(void) {
    BN_CTX *ctx = BN_CTX_new();
    group = EC_GROUP_new_by_curve_name(NID_sm2);
    order = BN_new();
    if (ctx == NULL || group == NULL || order == NULL || EC_GROUP_get_order(group, order, ctx) != 1) goto done;
    ready = comb_build(&generator_comb, EC_GROUP_get0_generator(group), GENERATOR_WINDOW_BITS, ctx);
done:
    BN_CTX_free(ctx);
}

/// Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA) with ID 1234567812345678 (GB/T 32918.2 5.5).
static int compute_z(const EC_POINT *point, unsigned char z[32], BN_CTX *ctx) {
    static const unsigned char id[16] = "1234567812345678";
    unsigned char buffer[2 + 16 + 6 * 32];
    buffer[0] = 0;
    buffer[1] = 128;  // the ID's length in bits
    memcpy(buffer + 2, id, 16);
    BN_CTX_start(ctx);
    BIGNUM *p = BN_CTX_get(ctx), *a = BN_CTX_get(ctx), *b = BN_CTX_get(ctx);
    BIGNUM *xg = BN_CTX_get(ctx), *yg = BN_CTX_get(ctx), *xa = BN_CTX_get(ctx), *ya = BN_CTX_get(ctx);
    unsigned char *field = buffer + 18;
    int ok = ya != NULL && EC_GROUP_get_curve(group, p, a, b, ctx) == 1
        && EC_POINT_get_affine_coordinates(group, EC_GROUP_get0_generator(group), xg, yg, ctx) == 1
        && EC_POINT_get_affine_coordinates(group, point, xa, ya, ctx) == 1
        && BN_bn2binpad(a, field, 32) == 32 && BN_bn2binpad(b, field + 32, 32) == 32
        && BN_bn2binpad(xg, field + 64, 32) == 32 && BN_bn2binpad(yg, field + 96, 32) == 32
        && BN_bn2binpad(xa, field + 128, 32) == 32 && BN_bn2binpad(ya, field + 160, 32) == 32
        && EVP_Digest(buffer, sizeof buffer, z, NULL, EVP_sm3(), NULL) == 1;
    BN_CTX_end(ctx);
    return ok;
}

cc_sm2_key *cc_sm2_key_new(const unsigned char *point, size_t point_len) {
    pthread_once(&once, setup);
    if (!ready || point_len != 65 || point[0] != 0x04) return NULL;
    cc_sm2_key *key = calloc(1, sizeof *key);
    BN_CTX *ctx = BN_CTX_new();
    int ok = key != NULL && ctx != NULL && (key->point = EC_POINT_new(group)) != NULL
        && EC_POINT_oct2point(group, key->point, point, point_len, ctx) == 1
        && EC_POINT_is_on_curve(group, key->point, ctx) == 1 && !EC_POINT_is_at_infinity(group, key->point)
        && compute_z(key->point, key->z, ctx);
    BN_CTX_free(ctx);
    if (!ok) {
        cc_sm2_key_free(key);
        return NULL;
    }
    return key;
}

void cc_sm2_key_free(cc_sm2_key *key) {
    if (key == NULL) return;
    key_table *table = atomic_load(&key->table);
    if (table != NULL) {
        comb_free(&table->comb);
        free(table);
        atomic_fetch_sub(&tables_alive, 1);
    }
    EC_POINT_free(key->point);
    free(key);
}

/// The comb table of `key`'s point, or NULL when the budget of live tables is spent or memory is short.
static key_table *table_new(const cc_sm2_key *key) {
    if (atomic_fetch_add(&tables_alive, 1) >= cc_sm2_tables_max) {
        atomic_fetch_sub(&tables_alive, 1);
        return NULL;
    }
    key_table *table = calloc(1, sizeof *table);
    BN_CTX *ctx = BN_CTX_new();
    int ok = table != NULL && ctx != NULL && comb_build(&table->comb, key->point, KEY_WINDOW_BITS, ctx);
    BN_CTX_free(ctx);
    if (!ok) {
        free(table);
        atomic_fetch_sub(&tables_alive, 1);
        return NULL;
    }
    return table;
}

/// The key's table once built; the call that makes the key's verification count reach the threshold builds it.
static const key_table *table_for(cc_sm2_key *key) {
    key_table *table = atomic_load_explicit(&key->table, memory_order_acquire);
    if (table != NULL) return table;
    if (atomic_fetch_add_explicit(&key->verifications, 1, memory_order_relaxed) + 1 < cc_sm2_table_after_verifications)
        return NULL;
    int idle = 0;
    if (!atomic_compare_exchange_strong(&key->building, &idle, 1)) return NULL;  // built (or building) elsewhere
    table = table_new(key);
    atomic_store_explicit(&key->table, table, memory_order_release);
    return table;
}

int cc_sm2_key_has_table(const cc_sm2_key *key) {
    return key != NULL && atomic_load_explicit(&((cc_sm2_key *)key)->table, memory_order_acquire) != NULL;
}

int cc_sm2_tables_alive(void) { return atomic_load(&tables_alive); }

int cc_sm2_verify(cc_sm2_key *key, const unsigned char *sig, size_t sig_len, const unsigned char *msg, size_t msg_len) {
    if (key == NULL || !ready || sig == NULL || (msg == NULL && msg_len > 0)) return 0;
    int valid = 0;
    ECDSA_SIG *parsed = NULL;
    unsigned char *der = NULL;
    EC_POINT *sum = NULL;
    EVP_MD_CTX *md = NULL;
    BN_CTX *ctx = BN_CTX_new();
    if (ctx == NULL) return 0;
    BN_CTX_start(ctx);
    BIGNUM *e = BN_CTX_get(ctx), *t = BN_CTX_get(ctx), *x1 = BN_CTX_get(ctx);
    if (x1 == NULL) goto done;

    // Strict DER with nothing after it, as OpenSSL requires.
    const unsigned char *cursor = sig;
    parsed = d2i_ECDSA_SIG(NULL, &cursor, (long)sig_len);
    if (parsed == NULL) goto done;
    int der_len = i2d_ECDSA_SIG(parsed, &der);
    if (der_len < 0 || (size_t)der_len != sig_len || memcmp(sig, der, sig_len) != 0) goto done;
    const BIGNUM *r = ECDSA_SIG_get0_r(parsed), *s = ECDSA_SIG_get0_s(parsed);
    // r, s in [1, n-1].
    if (BN_cmp(r, BN_value_one()) < 0 || BN_cmp(s, BN_value_one()) < 0 || BN_cmp(order, r) <= 0 || BN_cmp(order, s) <= 0)
        goto done;

    // e = SM3(Z || M).
    unsigned char digest[32];
    unsigned int digest_len = 0;
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sm3(), NULL) != 1 || EVP_DigestUpdate(md, key->z, 32) != 1
        || (msg_len > 0 && EVP_DigestUpdate(md, msg, msg_len) != 1) || EVP_DigestFinal_ex(md, digest, &digest_len) != 1
        || digest_len != 32 || BN_bin2bn(digest, 32, e) == NULL)
        goto done;

    // t = (r + s) mod n, nonzero; (x1, y1) = s·G + t·P.
    const key_table *table = table_for(key);
    if (BN_mod_add(t, r, s, order, ctx) != 1 || BN_is_zero(t)) goto done;
    sum = EC_POINT_new(group);
    if (sum == NULL) goto done;
    if (table != NULL) {
        if (EC_POINT_set_to_infinity(group, sum) != 1 || !comb_add_multiple(&table->comb, sum, t, ctx)
            || !comb_add_multiple(&generator_comb, sum, s, ctx))
            goto done;
    } else if (EC_POINT_mul(group, sum, s, key->point, t, ctx) != 1) {
        // Without the key's table, OpenSSL's joint multiplication (shared doublings) beats the generator's comb.
        goto done;
    }
    if (EC_POINT_is_at_infinity(group, sum) || EC_POINT_get_affine_coordinates(group, sum, x1, NULL, ctx) != 1) goto done;

    // Valid when r = (e + x1) mod n.
    if (BN_mod_add(t, e, x1, order, ctx) != 1) goto done;
    valid = BN_cmp(r, t) == 0;
done:
    // A malformed signature leaves OpenSSL errors on this thread's queue: they belong to no caller.
    if (!valid) ERR_clear_error();
    EVP_MD_CTX_free(md);
    EC_POINT_free(sum);
    OPENSSL_free(der);
    ECDSA_SIG_free(parsed);
    BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    return valid;
}
