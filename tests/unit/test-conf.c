/* SPDX-License-Identifier: MIT */
/* Configuration: defaults, the YAML file, errors with FILE:LINE:COL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>

#include "conf.h"
#include "helpers.h"

struct fixture {
    char *dir;
    char path[4096];
    struct conf conf;
    char err[512];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->dir = tmpdir_create();
    snprintf(f->path, sizeof(f->path), "%s/otad.yaml", f->dir);
    if (conf_init(&f->conf) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    conf_fini(&f->conf);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static int load(struct fixture *f, const char *yaml)
{
    assert_int_equal(write_file(f->dir, "otad.yaml", yaml, strlen(yaml)), 0);
    f->err[0] = '\0';
    return conf_load_file(&f->conf, f->path, f->err, sizeof(f->err));
}

/* Asserts the error starts with "PATH:LINE:COL: " and contains @what. */
static void assert_error(struct fixture *f, int line, int col, const char *what)
{
    char prefix[4200];

    snprintf(prefix, sizeof(prefix), "%s:%d:%d: ", f->path, line, col);
    if (strncmp(f->err, prefix, strlen(prefix)) != 0 || strstr(f->err, what) == NULL)
        fail_msg("error '%s' does not start with '%s' or lacks '%s'", f->err, prefix, what);
}

static void test_defaults(void **state)
{
    struct fixture *f = *state;

    assert_string_equal(f->conf.firmware_dir, "/var/lib/otad/firmware");
    assert_string_equal(f->conf.bind, "0.0.0.0");
    assert_int_equal(f->conf.port, 8000);
    assert_int_equal(f->conf.idle_timeout, 60);
    assert_true(f->conf.legacy_keep_alive);
    assert_int_equal(f->conf.log_level, LOG_LEVEL_INFO);
    assert_int_equal(f->conf.access_log, CONF_ACCESS_LOG_DOWNLOADS);
    assert_int_equal(f->conf.threads, 0);
    assert_int_equal(f->conf.max_connections, 16384);
    assert_int_equal(f->conf.settle_ms, 100);
    assert_int_equal(f->conf.retain_seconds, 600);
    assert_true(f->conf.max_memory == 1ull << 30);
    assert_true(f->conf.connection_memory == 2048);
}

/* The tls section: a nested mapping, in block or flow style. */
static void test_tls_section(void **state)
{
    struct fixture *f = *state;

    assert_null(f->conf.tls_cert);
    assert_int_equal(f->conf.tls_port, 8443);
    assert_int_equal(load(f, "port: 80\ntls:\n  cert: /c.pem\n  key: /k.pem\n  port: 443\n"
                             "idle_timeout: 5\n"),
                     0);
    assert_string_equal(f->conf.tls_cert, "/c.pem");
    assert_string_equal(f->conf.tls_key, "/k.pem");
    assert_int_equal(f->conf.tls_port, 443);
    assert_int_equal(f->conf.idle_timeout, 5); /* keys after the section still count */
    assert_int_equal(load(f, "tls: {cert: /a, key: /b}\n"), 0);
    assert_string_equal(f->conf.tls_cert, "/a");
    assert_int_equal(load(f, "tls:\n"), 0);
}

static void test_tls_errors(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "tls:\n  cert: /c\n  kye: /k\n"), -EINVAL);
    assert_error(f, 3, 3, "unknown key 'tls.kye'");
    assert_int_equal(load(f, "tls: {cert: /c}\n"), -EINVAL);
    assert_error(f, 1, 1, "tls: both cert and key are needed");
    conf_fini(&f->conf);
    assert_int_equal(conf_init(&f->conf), 0);
    assert_int_equal(load(f, "tls: {key: /k, port: 0}\n"), -EINVAL);
    assert_error(f, 1, 22, "tls.port: 0 is out of range 1..65535");
    assert_int_equal(load(f, "tls: yes\n"), -EINVAL);
    assert_error(f, 1, 6, "tls: expected a mapping");
    assert_int_equal(load(f, "tls.cert: /c\n"), -EINVAL);
    assert_error(f, 1, 1, "unknown key 'tls.cert'");
    assert_int_equal(load(f, "tls: {cert: /c, cert: /d}\n"), -EINVAL);
    assert_error(f, 1, 17, "duplicate key 'tls.cert'");
}

/* Rules across keys are checked after the file and the flags: the HTTPS
 * port may not be the plain one, whichever of the two set it. */
/* A fresh configuration, as a new start would have. */
static void reset(struct fixture *f)
{
    conf_fini(&f->conf);
    assert_int_equal(conf_init(&f->conf), 0);
}

/* signing: a list of key files, in flow or block style, or a single one. */
static void test_signing_section(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(f->conf.sign_keys.n, 0);
    assert_false(f->conf.sign_require);
    assert_int_equal(load(f, "signing: {keys: [/k/a.pub, /k/b.pub], require: true}\n"), 0);
    assert_int_equal(f->conf.sign_keys.n, 2);
    assert_string_equal(f->conf.sign_keys.path[0], "/k/a.pub");
    assert_string_equal(f->conf.sign_keys.path[1], "/k/b.pub");
    assert_true(f->conf.sign_require);
    assert_int_equal(conf_check(&f->conf, f->err, sizeof(f->err)), 0);
    reset(f);
    assert_int_equal(load(f, "signing:\n  keys:\n    - /a.pub\n    - \"/b c.pub\"\n"), 0);
    assert_int_equal(f->conf.sign_keys.n, 2);
    assert_string_equal(f->conf.sign_keys.path[1], "/b c.pub");
    assert_false(f->conf.sign_require);
    reset(f);
    assert_int_equal(load(f, "signing: {keys: /one.pub}\n"), 0);
    assert_int_equal(f->conf.sign_keys.n, 1);
    assert_string_equal(f->conf.sign_keys.path[0], "/one.pub");
}

static void test_signing_errors(void **state)
{
    static const struct {
        const char *yaml;
        int col;
        const char *what;
    } cases[] = {
        {"signing: {keys: [/1, /2, /3, /4, /5, /6, /7, /8, /9]}\n", 50,
         "signing.keys: at most 8 entries"},
        {"signing: {keys: [/a, [/b]]}\n", 22, "expected a single value, not a list"},
        {"signing: {keys: [{a: b}]}\n", 18, "expected a single value, not a mapping"},
        {"signing: {require: [true]}\n", 20,
         "signing.require: expected a single value, not a list"},
        {"signing: {keys: [\"\"]}\n", 18, "signing.keys: must not be empty"},
        {"signing: {kyes: [/a]}\n", 11, "unknown key 'signing.kyes'"},
    };
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        reset(f);
        assert_int_equal(load(f, cases[i].yaml), -EINVAL);
        assert_error(f, 1, cases[i].col, cases[i].what);
    }
    reset(f);
    /* Requiring signatures with no key to check them would refuse everything. */
    assert_int_equal(load(f, "signing: {require: true}\n"), 0);
    assert_int_equal(conf_check(&f->conf, f->err, sizeof(f->err)), -EINVAL);
    assert_string_equal(f->err, "signing.require: true needs signing.keys to verify with");
}

static void test_check_ports(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "port: 8443\n"), 0);
    assert_int_equal(conf_check(&f->conf, f->err, sizeof(f->err)), 0); /* no tls */
    assert_int_equal(load(f, "port: 9000\ntls: {cert: /c, key: /k, port: 9000}\n"), 0);
    assert_int_equal(conf_check(&f->conf, f->err, sizeof(f->err)), -EINVAL);
    assert_string_equal(f->err, "tls.port: 9000 is also the plain HTTP port");
    assert_int_equal(conf_set(&f->conf, "port", "9001", f->err, sizeof(f->err)), 0);
    assert_int_equal(conf_check(&f->conf, f->err, sizeof(f->err)), 0);
    assert_int_equal(conf_set(&f->conf, "tls.port", "9001", f->err, sizeof(f->err)), 0);
    assert_int_equal(conf_check(&f->conf, f->err, sizeof(f->err)), -EINVAL);
}

/* One document only: a second one used to override keys silently (or, after
 * an empty first one, crash the loader). */
static void test_one_document(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "port: 46219\n--- 46220\n"), -EINVAL);
    assert_error(f, 2, 1, "a second YAML document: the configuration is one document");
    assert_int_equal(f->conf.port, 46219);
    assert_int_equal(load(f, "!\n---\n"), -EINVAL);
    assert_error(f, 2, 1, "a second YAML document: the configuration is one document");
    assert_int_equal(load(f, "---\n---\n"), -EINVAL);
    assert_error(f, 2, 1, "a second YAML document: the configuration is one document");
    assert_int_equal(load(f, "---\nport: 81\n...\n"), 0); /* explicit markers, one document */
    assert_int_equal(f->conf.port, 81);
}

static void test_sizes(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "max_memory: 512M\n"), 0);
    assert_true(f->conf.max_memory == 512ull << 20);
    assert_int_equal(load(f, "max_memory: 2g\n"), 0);
    assert_true(f->conf.max_memory == 2ull << 30);
    assert_int_equal(load(f, "max_memory: 4096K\n"), 0);
    assert_true(f->conf.max_memory == 4ull << 20);
    assert_int_equal(load(f, "max_memory: 1048576\n"), 0);
    assert_true(f->conf.max_memory == 1ull << 20);
    assert_int_equal(load(f, "max_memory: 1000\n"), -EINVAL);
    assert_error(f, 1, 13, "max_memory: 1000 is out of range 1M..1024G");
    assert_int_equal(load(f, "max_memory: 2T\n"), -EINVAL);
    assert_error(f, 1, 13, "expected a size such as 512M or 2G");
    assert_int_equal(load(f, "max_memory: M\n"), -EINVAL);
    assert_error(f, 1, 13, "expected a size");
    assert_int_equal(load(f, "max_memory: 99999999999999999999G\n"), -EINVAL);
    assert_error(f, 1, 13, "out of range");
    /* connection_memory: 1K..1M, the range written in the units it is read in */
    assert_int_equal(load(f, "connection_memory: 8K\n"), 0);
    assert_true(f->conf.connection_memory == 8192);
    assert_int_equal(load(f, "connection_memory: 1536\n"), 0);
    assert_true(f->conf.connection_memory == 1536);
    assert_int_equal(load(f, "connection_memory: 1M\n"), 0);
    assert_true(f->conf.connection_memory == 1ull << 20);
    assert_int_equal(load(f, "connection_memory: 512\n"), -EINVAL);
    assert_error(f, 1, 20, "connection_memory: 512 is out of range 1K..1M");
    assert_int_equal(load(f, "connection_memory: 2M\n"), -EINVAL);
    assert_error(f, 1, 20, "out of range 1K..1M");
    assert_int_equal(load(f, "settle_ms: 0\nretain_seconds: 0\n"), 0);
    assert_int_equal(f->conf.settle_ms, 0);
    assert_int_equal(f->conf.retain_seconds, 0);
    assert_int_equal(load(f, "settle_ms: 60001\n"), -EINVAL);
    assert_error(f, 1, 12, "out of range 0..60000");
    assert_int_equal(load(f, "retain_seconds: 86401\n"), -EINVAL);
    assert_error(f, 1, 17, "out of range 0..86400");
}

static void test_full_file(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "# comment\n"
                             "firmware_dir: /srv/fw\n"
                             "bind: \"::1\"\n"
                             "port: 8080\n"
                             "idle_timeout: 5\n"
                             "legacy_keep_alive: false\n"
                             "log_level: debug\n"
                             "threads: 3\n"
                             "max_connections: 100\n"),
                     0);
    assert_string_equal(f->conf.firmware_dir, "/srv/fw");
    assert_string_equal(f->conf.bind, "::1");
    assert_int_equal(f->conf.port, 8080);
    assert_int_equal(f->conf.idle_timeout, 5);
    assert_false(f->conf.legacy_keep_alive);
    assert_int_equal(f->conf.log_level, LOG_LEVEL_DEBUG);
    assert_int_equal(f->conf.threads, 3);
    assert_int_equal(f->conf.max_connections, 100);
}

static void test_empty_file(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, ""), 0);
    assert_int_equal(load(f, "# only comments\n"), 0);
    assert_int_equal(f->conf.port, 8000);
}

static void test_unknown_key(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "port: 8000\n  \nprot: 9000\n"), -EINVAL);
    assert_error(f, 3, 1, "unknown key 'prot'");
}

static void test_access_log(void **state)
{
    struct fixture *f = *state;
    char err[128];

    assert_int_equal(load(f, "access_log: requests\n"), 0);
    assert_int_equal(f->conf.access_log, CONF_ACCESS_LOG_REQUESTS);
    assert_int_equal(load(f, "access_log: off\n"), 0);
    assert_int_equal(f->conf.access_log, CONF_ACCESS_LOG_OFF);
    assert_int_equal(conf_set(&f->conf, "access_log", "downloads", err, sizeof(err)), 0);
    assert_int_equal(f->conf.access_log, CONF_ACCESS_LOG_DOWNLOADS);
    assert_int_equal(load(f, "access_log: all\n"), -EINVAL);
    assert_error(f, 1, 13, "access_log: expected off, downloads or requests, got 'all'");
    assert_int_equal(load(f, "access_log: \"off\"\n"), -EINVAL);
    assert_error(f, 1, 13, "access_log: expected a plain word, got a quoted string");
}

static void test_wrong_types(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "port: abc\n"), -EINVAL);
    assert_error(f, 1, 7, "port: expected an integer");
    assert_int_equal(load(f, "port: \"8000\"\n"), -EINVAL);
    assert_error(f, 1, 7, "port: expected an integer");
    assert_int_equal(load(f, "legacy_keep_alive: maybe\n"), -EINVAL);
    assert_error(f, 1, 20, "legacy_keep_alive: expected true or false");
    assert_int_equal(load(f, "log_level: loud\n"), -EINVAL);
    assert_error(f, 1, 12, "log_level: expected error, warning, info or debug");
    assert_int_equal(load(f, "port: [1, 2]\n"), -EINVAL);
    assert_error(f, 1, 7, "not a list");
    assert_int_equal(load(f, "bind: {a: 1}\n"), -EINVAL);
    assert_error(f, 1, 7, "not a mapping");
    assert_int_equal(load(f, "bind: example.com\n"), -EINVAL);
    assert_error(f, 1, 7, "not an IPv4 or IPv6 address");
    assert_int_equal(load(f, "firmware_dir: \"\"\n"), -EINVAL);
    assert_error(f, 1, 15, "must not be empty");
    assert_int_equal(load(f, "- port\n"), -EINVAL);
    assert_error(f, 1, 1, "not a list");
    assert_int_equal(load(f, "just a string\n"), -EINVAL);
    assert_error(f, 1, 1, "expected a mapping");
}

static void test_out_of_range(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "port: 70000\n"), -EINVAL);
    assert_error(f, 1, 7, "port: 70000 is out of range 1..65535");
    assert_int_equal(load(f, "port: 0\n"), -EINVAL);
    assert_error(f, 1, 7, "out of range");
    assert_int_equal(load(f, "idle_timeout: 0\n"), -EINVAL);
    assert_error(f, 1, 15, "out of range 1..86400");
    assert_int_equal(load(f, "threads: 99999999999999999999\n"), -EINVAL);
    assert_error(f, 1, 10, "out of range");
    assert_int_equal(load(f, "max_connections: 1\n"), -EINVAL);
    assert_error(f, 1, 18, "out of range");
}

static void test_duplicate_and_syntax(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "port: 1\nport: 2\n"), -EINVAL);
    assert_error(f, 2, 1, "duplicate key 'port'");
    assert_int_equal(load(f, "port: 1\n bind: [\n"), -EINVAL);
    assert_true(strncmp(f->err, f->path, strlen(f->path)) == 0);
    assert_non_null(strchr(f->err + strlen(f->path), ':'));
}

/* A bad value is skipped and the file read on: one line per error, in file
 * order, and the good keys around them are applied. */
static void test_every_error(void **state)
{
    struct fixture *f = *state;
    char want[5 * 4200];

    assert_int_equal(load(f, "port: 70000\n"
                             "other: {a: [1, {b: 2}], c: 3}\n"
                             "idle_timeout: 7\n"
                             "signing:\n"
                             "  keys: [/a.pem, {x: 1}, /b.pem]\n"
                             "bind: [1, [2]]\n"
                             "threads: 3\n"
                             "bind: 127.0.0.1\n"),
                     -EINVAL);
    snprintf(want, sizeof(want),
             "%1$s:1:7: port: 70000 is out of range 1..65535\n"
             "%1$s:2:1: unknown key 'other'\n"
             "%1$s:5:18: signing.keys: expected a single value, not a mapping\n"
             "%1$s:6:7: bind: expected a single value, not a list\n"
             "%1$s:8:1: duplicate key 'bind'",
             f->path);
    assert_string_equal(f->err, want);
    assert_int_equal(f->conf.idle_timeout, 7);
    assert_int_equal(f->conf.threads, 3);
    assert_int_equal(f->conf.port, 8000);
    assert_int_equal(f->conf.sign_keys.n, 2);
    assert_string_equal(f->conf.sign_keys.path[1], "/b.pem");
    /* A key given twice is a duplicate even when its first value was bad. */
    assert_string_equal(f->conf.bind, "0.0.0.0");
}

/* An unclosed quote is found at the end of the file; the error points at
 * the quote, in libyaml's words, and ends the reading. */
static void test_syntax_error_context(void **state)
{
    struct fixture *f = *state;
    char want[3 * 4200];

    assert_int_equal(load(f, "port: 0\nidle_timeout: 5\nbind: \"127.0.0.1\nport: 8000\n"),
                     -EINVAL);
    snprintf(want, sizeof(want),
             "%1$s:1:7: port: 0 is out of range 1..65535\n"
             "%1$s:3:7: found unexpected end of stream, while scanning a quoted scalar"
             " that starts at 3:7",
             f->path);
    assert_string_equal(f->err, want);
    /* Without a context, the problem's own position. */
    assert_int_equal(load(f, "port: 1\nbind: 127.0.0.1: b\n"), -EINVAL);
    snprintf(want, sizeof(want), "%s:2:16: mapping values are not allowed in this context",
             f->path);
    assert_string_equal(f->err, want);
}

/* More errors than the buffer holds: those that fit, still a string. */
static void test_errors_truncated(void **state)
{
    struct fixture *f = *state;
    const char *yaml = "a: 1\nb: 2\nc: 3\nd: 4\n";
    char err[40];

    assert_int_equal(write_file(f->dir, "otad.yaml", yaml, strlen(yaml)), 0);
    memset(err, 'x', sizeof(err));
    assert_int_equal(conf_load_file(&f->conf, f->path, err, sizeof(err)), -EINVAL);
    assert_true(strlen(err) < sizeof(err));
}

static void test_missing_file(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(conf_load_file(&f->conf, "/nonexistent/otad.yaml", f->err, sizeof(f->err)),
                     -ENOENT);
    assert_non_null(strstr(f->err, "/nonexistent/otad.yaml"));
}

static void test_set_from_flags(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(conf_set(&f->conf, "port", "9000", f->err, sizeof(f->err)), 0);
    assert_int_equal(f->conf.port, 9000);
    assert_int_equal(conf_set(&f->conf, "port", "x", f->err, sizeof(f->err)), -EINVAL);
    assert_int_equal(f->conf.port, 9000);
    assert_int_equal(conf_set(&f->conf, "bind", "::", f->err, sizeof(f->err)), 0);
    assert_string_equal(f->conf.bind, "::");
    assert_int_equal(conf_set(&f->conf, "bind", "1.2.3", f->err, sizeof(f->err)), -EINVAL);
    assert_int_equal(conf_set(&f->conf, "nope", "1", f->err, sizeof(f->err)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_section, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signing_section, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signing_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_ports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_and_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_error_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_from_flags, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
