/*
 * webdl.h - libmicrohttpd and GnuTLS, loaded when the web server or
 * --web.config.file first needs them (util/dynload.h says why).
 *
 * Every call into either library goes through a sym_NAME pointer declared
 * here with the library's own prototype. webdl_load() fills them; the entry
 * points that lead to such a call (web_start, webcfg_load, auth_new) call
 * it first, so nothing else has to.
 */
#ifndef WEBDL_H
#define WEBDL_H

#include <stddef.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

/* The sonames the build links against: tests/test_dynload.c checks that
 * loading them gives the very functions the linker binds. */
#define WEBDL_MHD_SONAME "libmicrohttpd.so.12"
#define WEBDL_GNUTLS_SONAME "libgnutls.so.30"

#define WEBDL_MHD_SYMBOLS(X) \
	X(MHD_add_response_header) \
	X(MHD_basic_auth_get_username_password) \
	X(MHD_create_response_from_buffer) \
	X(MHD_destroy_response) \
	X(MHD_free) \
	X(MHD_get_connection_info) \
	X(MHD_is_feature_supported) \
	X(MHD_lookup_connection_value) \
	X(MHD_queue_response) \
	X(MHD_quiesce_daemon) \
	X(MHD_start_daemon) \
	X(MHD_stop_daemon)

#define WEBDL_GNUTLS_SYMBOLS(X) \
	X(gnutls_certificate_allocate_credentials) \
	X(gnutls_certificate_free_credentials) \
	X(gnutls_certificate_get_peers) \
	X(gnutls_certificate_set_x509_key_mem) \
	X(gnutls_certificate_set_x509_trust_mem) \
	X(gnutls_certificate_verification_status_print) \
	X(gnutls_certificate_verify_peers2) \
	X(gnutls_hash_fast) \
	X(gnutls_rnd) \
	X(gnutls_strerror)

#define WEBDL_DECLARE(name) extern __typeof__(name) *sym_##name;
WEBDL_MHD_SYMBOLS(WEBDL_DECLARE)
WEBDL_GNUTLS_SYMBOLS(WEBDL_DECLARE)
#undef WEBDL_DECLARE

/* gnutls_free is a variable in GnuTLS (a pointer to its deallocator), not
 * a function: looked up like the others, it is called through its value. */
extern __typeof__(gnutls_free) *sym_gnutls_free;

/*
 * Load both libraries and fill every sym_ pointer, once per process (later
 * calls return the first call's answer, error included). Thread-safe.
 * Returns 0, or -1 with a one-line reason in err.
 */
int webdl_load(char *err, size_t errlen);

#endif
