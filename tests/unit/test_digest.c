/* Unit tests for lib/digest.c: known answers from FIPS 180-4's examples
 * and RFC 6455 / RFC 4648, and the log hashing of js_sha256_fd. */
#include <errno.h>

#include "testutil.h"
#include "digest.h"

static void
sha256_hex_of(const void *data, size_t len, char hex[JS_SHA256_HEX_SIZE])
{
	struct js_sha256 s;
	unsigned char d[JS_SHA256_SIZE];

	js_sha256_init(&s);
	js_sha256_update(&s, data, len);
	assert_int_equal(s.len, len);
	js_sha256_final(&s, d);
	js_sha256_hex(d, hex);
}

static void
test_sha256_kat(void **state)
{
	char hex[JS_SHA256_HEX_SIZE];
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	struct js_sha256 s;
	unsigned char d[JS_SHA256_SIZE], chunk[1001];
	int i;

	(void)state;
	sha256_hex_of("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	sha256_hex_of("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	sha256_hex_of(two, strlen(two), hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039"
	    "a33ce45964ff2167f6ecedd419db06c1");
	/* one million 'a', fed in uneven pieces */
	memset(chunk, 'a', sizeof chunk);
	js_sha256_init(&s);
	for (i = 0; i < 1000; i++)
		js_sha256_update(&s, chunk, i % 2 ? 999 : 1001);
	assert_int_equal(s.len, 1000000);
	js_sha256_final(&s, d);
	js_sha256_hex(d, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67"
	    "f1809a48a497200e046d39ccc7112cd0");
}

static void
test_sha256_fd(void **state)
{
	char *dir = tu_tempdir(), path[512], hex[JS_SHA256_HEX_SIZE];
	uint64_t size = 1;
	int fd;

	(void)state;
	snprintf(path, sizeof path, "%s/log", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(js_sha256_fd(fd, hex, &size), 0);
	assert_int_equal(size, 0);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	assert_int_equal(write(fd, "abc", 3), 3);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(js_sha256_fd(fd, hex, &size), 0);
	assert_int_equal(size, 3);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(close(fd), 0);
	/* a bad fd fails with errno */
	assert_int_equal(js_sha256_fd(fd, hex, &size), -1);
	assert_int_equal(errno, EBADF);
	tu_rm_tree(dir);
}

static void
test_sha1_base64(void **state)
{
	unsigned char d[JS_SHA1_SIZE];
	char b[JS_BASE64_SIZE(JS_SHA1_SIZE)], small[JS_BASE64_SIZE(6)];
	const char *ws = "dGhlIHNhbXBsZSBub25jZQ=="
	    "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

	(void)state;
	js_sha1("abc", 3, d);
	js_base64_encode(d, sizeof d, b);
	assert_string_equal(b, "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
	/* RFC 6455 section 1.3: the sample handshake's Sec-WebSocket-Accept */
	js_sha1(ws, strlen(ws), d);
	js_base64_encode(d, sizeof d, b);
	assert_string_equal(b, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	/* RFC 4648 section 10 */
	js_base64_encode((const unsigned char *)"", 0, small);
	assert_string_equal(small, "");
	js_base64_encode((const unsigned char *)"f", 1, small);
	assert_string_equal(small, "Zg==");
	js_base64_encode((const unsigned char *)"fo", 2, small);
	assert_string_equal(small, "Zm8=");
	js_base64_encode((const unsigned char *)"foobar", 6, small);
	assert_string_equal(small, "Zm9vYmFy");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_kat),
		cmocka_unit_test(test_sha256_fd),
		cmocka_unit_test(test_sha1_base64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
