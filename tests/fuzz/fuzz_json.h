/* fuzz_json: a strict JSON syntax check (RFC 8259) for what proto_json
 * renders: one value, optional whitespace around it, strings without raw
 * control characters and with valid escapes, numbers in JSON's grammar.
 * With `utf8`, strings must also be valid UTF-8 (RFC 8259 section 8.1).
 * Returns NULL if `text` is valid, else a static description and, in
 * *at, the offset where it went wrong. */
#ifndef GMB_FUZZ_JSON_H
#define GMB_FUZZ_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const uint8_t *p, *end, *start;
    bool utf8;
    const char *why;
} json_in;

static bool json_value(json_in *j, int depth);

static void json_ws(json_in *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool json_fail(json_in *j, const char *why)
{
    if (!j->why)
        j->why = why;
    return false;
}

/* Length of the UTF-8 sequence at p (1-4), or 0 if it is not one. */
static size_t json_utf8_len(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

static int json_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool json_string(json_in *j)
{
    j->p++; /* the opening quote */
    while (j->p < j->end) {
        uint8_t c = *j->p;
        if (c == '"') {
            j->p++;
            return true;
        }
        if (c < 0x20)
            return json_fail(j, "a raw control character in a string");
        if (c == '\\') {
            if (j->end - j->p < 2)
                return json_fail(j, "a string ends in an escape");
            uint8_t e = j->p[1];
            if (e == 'u') {
                if (j->end - j->p < 6 || !json_hex(j->p[2]) || !json_hex(j->p[3]) || !json_hex(j->p[4]) ||
                    !json_hex(j->p[5]))
                    return json_fail(j, "a bad \\u escape");
                j->p += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
                j->p += 2;
            } else {
                return json_fail(j, "an unknown escape");
            }
            continue;
        }
        if (c >= 0x80 && j->utf8) {
            size_t n = json_utf8_len(j->p, j->end);
            if (!n)
                return json_fail(j, "a string that is not valid UTF-8");
            j->p += n;
            continue;
        }
        j->p++;
    }
    return json_fail(j, "an unterminated string");
}

static bool json_digits(json_in *j)
{
    const uint8_t *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s;
}

static bool json_number(json_in *j)
{
    if (*j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (!json_digits(j))
        return json_fail(j, "not a number");
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!json_digits(j))
            return json_fail(j, "a number without digits after '.'");
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!json_digits(j))
            return json_fail(j, "a number without an exponent");
    }
    return true;
}

static bool json_word(json_in *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return json_fail(j, "not a JSON value");
    j->p += n;
    return true;
}

static bool json_value(json_in *j, int depth)
{
    if (depth > 64)
        return json_fail(j, "nested deeper than 64");
    json_ws(j);
    if (j->p >= j->end)
        return json_fail(j, "a value is missing");
    uint8_t c = *j->p;
    if (c == '"')
        return json_string(j);
    if (c == '-' || (c >= '0' && c <= '9'))
        return json_number(j);
    if (c == 't')
        return json_word(j, "true");
    if (c == 'f')
        return json_word(j, "false");
    if (c == 'n')
        return json_word(j, "null");
    if (c == '{' || c == '[') {
        uint8_t close = c == '{' ? '}' : ']';
        j->p++;
        json_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return true;
        }
        for (;;) {
            if (c == '{') {
                json_ws(j);
                if (j->p >= j->end || *j->p != '"')
                    return json_fail(j, "an object key is not a string");
                if (!json_string(j))
                    return false;
                json_ws(j);
                if (j->p >= j->end || *j->p != ':')
                    return json_fail(j, "a key without ':'");
                j->p++;
            }
            if (!json_value(j, depth + 1))
                return false;
            json_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == close) {
                j->p++;
                return true;
            }
            return json_fail(j, "a missing ',' or closing bracket");
        }
    }
    return json_fail(j, "not a JSON value");
}

static const char *json_check(const uint8_t *text, size_t len, bool utf8, size_t *at)
{
    json_in j = {text, text + len, text, utf8, NULL};
    if (json_value(&j, 0)) {
        json_ws(&j);
        if (j.p != j.end)
            json_fail(&j, "text after the value");
    }
    *at = (size_t)(j.p - j.start);
    return j.why;
}

#endif
