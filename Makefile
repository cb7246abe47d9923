# jobspool - a file-based spool job queue.  See README.md.
VERSION = 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/jobspool
# systemd-sysusers and systemd-tmpfiles read /usr/lib/... and /usr/local/lib/...
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
DESTDIR ?=

CC ?= cc
PKGS = jansson uuid libmicrohttpd nettle
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -ljansson -luuid -lmicrohttpd -lnettle)
WARN = -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(PKG_CFLAGS) -iquote lib \
	-DJS_VERSION='"$(VERSION)"'
LDLIBS = $(PKG_LIBS) -lpthread
# the apiserver verifies client certificates (mutual TLS) with GnuTLS
API_LIBS := $(shell pkg-config --libs gnutls 2>/dev/null || echo -lgnutls)

# B is the build directory: build/ normally, build/san/ for sanitizer runs.
B ?= build
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined

LIB_SRC := $(wildcard lib/*.c)
API_SRC := $(wildcard apiserver/*.c)
PROC_SRC := $(wildcard processor/*.c)
CLEAN_SRC := $(wildcard cleaner/*.c)
CLIENT_SRC := $(wildcard client/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
HEADERS := $(wildcard lib/*.h apiserver/*.h processor/*.h cleaner/*.h client/*.h tests/unit/*.h)

PROGS = jobspool-apiserver jobspool-processor jobspool-cleaner jobspool
MAN1 = $(wildcard man/*.1)
MAN8 = $(wildcard man/*.8)
MAN5 = $(wildcard man/*.5)
MAN7 = $(wildcard man/*.7)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

all: $(addprefix $(B)/,$(PROGS))

$(B)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/libjobspool.a: $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# the apiserver's objects but main.o, for its program and the handler-level
# fuzz harness (tests/fuzz/fuzz_api.c)
API_LIB_SRC := $(filter-out apiserver/main.c,$(API_SRC))
# the status page's files are compiled into ui.o (.incbin)
$(B)/obj/apiserver/ui.o: $(wildcard apiserver/ui/*)
$(B)/libapiserver.a: $(call obj,$(API_LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(B)/jobspool-apiserver: $(call obj,apiserver/main.c) $(B)/libapiserver.a \
		$(B)/libjobspool.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(API_LIBS)
# remote mode (processor/remote_*.c) and the notifiers talk HTTP with
# libcurl, which the processor loads when it needs it (processor/curlfn.h:
# not linked, so a local processor does not map it); the client links it.
# The processor and the cleaner are linked --as-needed: nothing of
# libmicrohttpd (the apiserver's) or GnuTLS under it, whatever the toolchain
# defaults to
PROC_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
# each program is its main.c over an archive of its other modules, which
# the unit tests link too (tests/unit/test_api_*, test_proc_*, test_clean_*)
PROC_LIB_SRC := $(filter-out processor/main.c,$(PROC_SRC))
$(B)/libprocessor.a: $(call obj,$(PROC_LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(B)/jobspool-processor: $(call obj,processor/main.c) $(B)/libprocessor.a \
		$(B)/libjobspool.a
	$(CC) $(ALL_CFLAGS) -Wl,--as-needed -o $@ $^ $(LDLIBS) -ldl
CLEAN_LIB_SRC := $(filter-out cleaner/main.c,$(CLEAN_SRC))
$(B)/libcleaner.a: $(call obj,$(CLEAN_LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(B)/jobspool-cleaner: $(call obj,cleaner/main.c) $(B)/libcleaner.a \
		$(B)/libjobspool.a
	$(CC) $(ALL_CFLAGS) -Wl,--as-needed -o $@ $^ $(LDLIBS)
# jobspool(1), the client: local mode through lib/, remote mode with libcurl
CLIENT_LIB_SRC := $(filter-out client/main.c,$(CLIENT_SRC))
$(B)/libclient.a: $(call obj,$(CLIENT_LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(B)/jobspool: $(call obj,client/main.c) $(B)/libclient.a $(B)/libjobspool.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(PROC_LIBS)

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(B)/libjobspool.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
# unit tests of a program's modules (the shorter stem wins over the rule
# above): test_api_*.c, test_proc_*.c, test_clean_*.c
$(B)/tests/test_api_%: $(B)/obj/tests/unit/test_api_%.o $(B)/libapiserver.a \
		$(B)/libjobspool.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(API_LIBS) -lcmocka
$(B)/tests/test_proc_%: $(B)/obj/tests/unit/test_proc_%.o \
		$(B)/libprocessor.a $(B)/libjobspool.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(PROC_LIBS) -lcmocka
$(B)/tests/test_clean_%: $(B)/obj/tests/unit/test_clean_%.o \
		$(B)/libcleaner.a $(B)/libjobspool.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
$(B)/tests/test_client_%: $(B)/obj/tests/unit/test_client_%.o \
		$(B)/libclient.a $(B)/libjobspool.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(PROC_LIBS) -lcmocka

UNIT_BINS = $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

# Fuzz harnesses, built without libFuzzer to replay their corpus in check.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY = $(patsubst tests/fuzz/fuzz_%.c,$(B)/fuzz/replay_%,$(FUZZ_SRC))
$(B)/fuzz/replay_%: $(B)/obj/tests/fuzz/fuzz_%.o $(B)/obj/tests/fuzz/replay.o $(B)/libjobspool.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)
# the apiserver's harnesses also link its request and framing code; the
# request harness links the whole apiserver but main.o, since the route
# table (apiserver/routes.c) names every handler
$(B)/fuzz/replay_http: $(B)/obj/tests/fuzz/fuzz_http.o \
		$(B)/obj/tests/fuzz/replay.o $(B)/libapiserver.a $(B)/libjobspool.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(API_LIBS)
$(B)/fuzz/replay_ws: $(B)/obj/tests/fuzz/fuzz_ws.o \
		$(call obj,apiserver/wsframe.c) $(B)/obj/tests/fuzz/replay.o \
		$(B)/libjobspool.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# the handler-level harness drives the whole apiserver (but main.c) in
# process: replayed by make check; its libFuzzer build and fuzz_http's
# (clang, objects compiled with -fsanitize=fuzzer-no-link) are made by
# tests/fuzz/run.sh
$(B)/fuzz/replay_api: $(B)/obj/tests/fuzz/fuzz_api.o \
		$(B)/obj/tests/fuzz/replay.o $(B)/libapiserver.a $(B)/libjobspool.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(API_LIBS)
$(B)/fuzz/fuzz_api $(B)/fuzz/fuzz_http: $(B)/fuzz/fuzz_%: \
		$(B)/obj/tests/fuzz/fuzz_%.o $(B)/libapiserver.a $(B)/libjobspool.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS) $(API_LIBS)

unit-bins: $(UNIT_BINS) $(FUZZ_REPLAY)

# make fuzz: run every libFuzzer harness for FUZZ_TIME seconds (clang).
fuzz:
	@sh tests/fuzz/run.sh

# Installs the Debian packages the build and the tests need (as root), or
# prints the apt-get line to run.
deps:
	@sh scripts/deps.sh
# only what building and running need (make run): gcc, make, the libraries
# and curl; no test tools
deps-run:
	@sh scripts/deps.sh --run

# make check: every suite, built with AddressSanitizer and
# UndefinedBehaviorSanitizer; ends with one line "N passed, M failed,
# K skipped" (see tests/run.sh).
check: deps
	@$(MAKE) --no-print-directory B=build/san CFLAGS="-O1 -g $(SAN_FLAGS)" all unit-bins
	@sh tests/run.sh build/san

# make soak: the long fault and load variants (10,000-job load_mixed, 20
# apiserver kill rounds, 3,000-job processor kill -9) on an optimised build,
# then make soak-stateful;
# make valgrind: memcheck of whole integration suites (VG_SUITES, default
# api_basic) on a -O0 build.  See tests/soak/.
soak: deps
	@$(MAKE) --no-print-directory B=build/soak CFLAGS="-O2 -g" all
	@sh tests/soak/run.sh build/soak; s=$$?; \
		$(MAKE) --no-print-directory soak-stateful || s=1; exit $$s

# make soak-stateful (also run by make soak): the stateful random tester
# (tests/stateful/stateful.py) on random seeds of 1000 steps for
# SOAK_MINUTES (default 30) under ASan+UBSan; the first failing seed prints
# its steps and the command that replays it.
soak-stateful: deps
	@$(MAKE) --no-print-directory B=build/san CFLAGS="-O1 -g $(SAN_FLAGS)" all
	@python3 tests/stateful/stateful.py --bin build/san --steps 1000 \
		--minutes $${SOAK_MINUTES:-30}

valgrind: deps
	@sh tests/soak/valgrind.sh $(VG_SUITES)

# make coverage: a gcov build (gcc --coverage -O0; atomic counters: the
# apiserver's threads share them) in COV_DIR (build/cov),
# the whole suite (tests/run.sh) against it, then the line and branch
# coverage of every file of lib/, apiserver/, processor/ and cleaner/
# (gcovr, installed by scripts/deps.sh), ending with a TOTAL line; also
# COV_DIR/coverage/index.html.  See scripts/coverage.sh.
COV_DIR ?= build/cov
coverage:
	@sh scripts/deps.sh gcovr
	@$(MAKE) --no-print-directory B=$(COV_DIR) CC=gcc \
		CFLAGS="-O0 -g --coverage -fprofile-update=atomic -DJS_COVERAGE" all unit-bins
	@sh scripts/coverage.sh $(COV_DIR)

# make bench: jobspool against task-spooler, nq, beanstalkd and the machine's
# limits (release build in build/bench), a remote processor against a local
# one (remote.sh) and the Slurm executor against sbatch (slurm.sh); one
# Markdown table, with the targets of issue 21 and the previous table's
# ratios, on stdout, in tests/bench/last-results.md and in the README's
# Performance section.  See tests/bench/run.sh.
bench: deps
	@$(MAKE) --no-print-directory -s B=build/bench CFLAGS="-O2 -g" all
	@sh tests/bench/run.sh build/bench

# make run: starts the apiserver (127.0.0.1:$$PORT, default 8080) and a
# processor on ./spool; Ctrl-C stops both.  See scripts/run.sh.
run: deps-run
	@$(MAKE) --no-print-directory all
	@sh scripts/run.sh $(B)

# make certs: a private CA, a server certificate for CERT_NAMES (default
# localhost and 127.0.0.1) and client certificates for CERT_CLIENTS, in
# CERTS_DIR (default ./certs), by scripts/jobspool-certs (installed as
# jobspool-certs, man 8 jobspool-certs); existing files are kept.
CERTS_DIR ?= certs
CERT_NAMES ?= localhost 127.0.0.1 $(shell hostname 2>/dev/null)
CERT_CLIENTS ?= client
CERT_WORKERS ?=
certs:
	@sh scripts/deps.sh --run gnutls-bin
	@sh scripts/jobspool-certs -d $(CERTS_DIR) \
		$(foreach n,$(CERT_NAMES),--server $(n)) \
		$(foreach n,$(CERT_CLIENTS),--client $(n)) \
		$(foreach n,$(CERT_WORKERS),--worker $(n))

# make image: an OCI image FROM scratch (Containerfile) with the programs of
# a release build in build/image, the shared libraries they need, a static
# busybox for shell jobs (scripts/image.sh, podman or docker); make
# image-run starts its apiserver and a processor on 127.0.0.1:IMAGE_PORT
# with the host's IMAGE_SPOOL (scripts/image-run.sh).
IMAGE ?= localhost/jobspool:$(VERSION)
IMAGE_SPOOL ?= $(CURDIR)/spool
IMAGE_PORT ?= 8080
image:
	@$(MAKE) --no-print-directory B=build/image CFLAGS="-O2" all
	@sh scripts/image.sh build/image $(IMAGE)
image-run: image
	@sh scripts/image-run.sh $(IMAGE) $(IMAGE_SPOOL) $(IMAGE_PORT)
run-image: image-run

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(addprefix $(B)/,$(PROGS)) $(DESTDIR)$(BINDIR)/
	install -m 0755 scripts/jobspool-certs $(DESTDIR)$(BINDIR)/jobspool-certs
	$(if $(MAN1),install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)
	$(if $(MAN5),install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/)
	$(if $(MAN7),install -m 0644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/)
	$(if $(MAN8),install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/)
	install -d $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 0644 examples/jobspool.sysusers $(DESTDIR)$(SYSUSERSDIR)/jobspool.conf
	install -m 0644 examples/jobspool.tmpfiles $(DESTDIR)$(TMPFILESDIR)/jobspool.conf

# The systemd units and timer, the crontab line, the sysusers.d and
# tmpfiles.d snippets (also installed by make install) and the nginx
# site of examples/.
EXAMPLES = $(wildcard examples/*)
install-examples:
	install -d $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 $(EXAMPLES) $(DESTDIR)$(DOCDIR)/examples/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGS))
	rm -f $(DESTDIR)$(BINDIR)/jobspool-certs
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8)))
	rm -f $(DESTDIR)$(SYSUSERSDIR)/jobspool.conf $(DESTDIR)$(TMPFILESDIR)/jobspool.conf
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/examples/,$(notdir $(EXAMPLES)))
	rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null || true

clean:
	rm -rf build

.PHONY: image image-run run-image certs all check bench run install uninstall install-examples clean deps deps-run unit-bins fuzz soak soak-stateful valgrind coverage
