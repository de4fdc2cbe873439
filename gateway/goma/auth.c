#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errmsg.h"
#include "mem.h"

typedef struct {
    unsigned char sha[32];
    char *user;
} token_entry;

struct gmb_auth {
    bool required;
    token_entry *tokens;
    int n_tokens;
};

static void sha256(const char *s, size_t n, unsigned char out[32])
{
    unsigned int len = 32;
    EVP_Digest(s, n, out, &len, EVP_sha256(), NULL);
}

static int load_tokens(gmb_auth *a, const char *path, char **err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return gmb_fail(err, "cannot read auth.token_file %s: %s", path, strerror(errno));
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '#' || *p == '\0')
            continue;
        char *tok = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        size_t tlen = (size_t)(p - tok);
        while (isspace((unsigned char)*p))
            p++;
        char *user = p;
        size_t ulen = strcspn(user, "\r\n");
        while (ulen > 0 && isspace((unsigned char)user[ulen - 1]))
            ulen--;
        a->tokens = gmb_realloc(a->tokens, (size_t)(a->n_tokens + 1) * sizeof *a->tokens);
        token_entry *t = &a->tokens[a->n_tokens++];
        sha256(tok, tlen, t->sha);
        t->user = ulen ? gmb_strndup(user, ulen) : gmb_format("token #%d", lineno);
    }
    fclose(f);
    if (a->n_tokens == 0)
        return gmb_fail(err, "auth.token_file %s lists no tokens", path);
    return 0;
}

gmb_auth *gmb_auth_new(const char *mode, const char *token_file, char **err)
{
    gmb_auth *a = gmb_calloc(1, sizeof *a);
    if (strcmp(mode, "none") == 0)
        return a;
    if (strcmp(mode, "tokens") != 0) {
        gmb_fail(err, "auth.mode \"%s\" is not \"none\" or \"tokens\"", mode);
        free(a);
        return NULL;
    }
    a->required = true;
    if (!token_file || !*token_file) {
        gmb_fail(err, "auth.mode is \"tokens\" but auth.token_file is empty");
        free(a);
        return NULL;
    }
    if (load_tokens(a, token_file, err) < 0) {
        gmb_auth_free(a);
        return NULL;
    }
    return a;
}

bool gmb_auth_check(const gmb_auth *a, const char *authorization, const char **user)
{
    *user = "anonymous";
    if (!a->required)
        return true;
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return false;
    const char *tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    unsigned char sha[32];
    sha256(tok, strlen(tok), sha);
    /* Look at every entry, always: the time taken says nothing. */
    int match = -1;
    for (int i = 0; i < a->n_tokens; i++)
        if (CRYPTO_memcmp(sha, a->tokens[i].sha, 32) == 0)
            match = i;
    if (match < 0)
        return false;
    *user = a->tokens[match].user;
    return true;
}

bool gmb_auth_required(const gmb_auth *a)
{
    return a->required;
}

int gmb_auth_token_count(const gmb_auth *a)
{
    return a->n_tokens;
}

void gmb_auth_free(gmb_auth *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->n_tokens; i++)
        free(a->tokens[i].user);
    free(a->tokens);
    free(a);
}
