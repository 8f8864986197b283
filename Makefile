# ngx_http_provision_x_module — build, test and run.
#
#   make            build the module (and the unit tests' core library)
#   make test       deps, build, lint, unit tests, Test::Nginx suite
#   make run        demo gateway on 127.0.0.1:8080 (Ctrl-C stops it)
#   make check      load the module into the distribution's nginx
#   make install    module, its modules-available snippet, the CLI and its
#                   man page (DESTDIR, PREFIX, NGINX_MODULES_DIR)
#   make deb        Debian packages (dh_nginx) in build/deb/
#   make compat     nginx and the module from NGINX_TARBALL, whole suite
#   make fuzz       every libFuzzer harness, FUZZ_TIME seconds each
#
# NGINX_SRC selects the nginx source tree (default: Debian's nginx-dev).

NGINX_SRC   ?= /usr/share/nginx/src
NGINX_BIN   ?= /usr/sbin/nginx
BUILD       ?= build

VERSION     := $(shell cat VERSION)
MODULE_NAME := ngx_http_provision_x_module
MODULE      := $(BUILD)/$(MODULE_NAME).so
NGX_TREE    := $(BUILD)/nginx
TOP         := $(CURDIR)

CXX         ?= g++
CXXFLAGS    ?= -O2 -g
PX_CXXFLAGS := -std=c++17 -fPIC -W -Wall -Wextra -Wpointer-arith \
               -Wno-unused-parameter -Werror -Isrc
PX_LIBS     := -lsimdjson -ljansson -lcrypto
CLI_LIBS    := $(PX_LIBS) -lcurl

CORE_SRCS   := $(wildcard src/core/*.cpp)
CORE_OBJS   := $(CORE_SRCS:src/core/%.cpp=$(BUILD)/core/%.o)
UNIT_SRCS   := $(wildcard test/unit/*.cpp)
UNIT_OBJS   := $(UNIT_SRCS:test/unit/%.cpp=$(BUILD)/unit/%.o)
UNIT_BIN    := $(BUILD)/unit_tests
HEADERS     := $(wildcard src/*.hpp src/core/*.hpp)
CLI_SRCS    := $(wildcard tools/provision-x/*.cpp)
CLI_HEADERS := $(wildcard tools/provision-x/*.hpp)
CLI_OBJS    := $(patsubst tools/provision-x/%.cpp,$(BUILD)/cli/%.o, \
                 $(filter-out %/main.cpp,$(CLI_SRCS)))
CLI_LIB     := $(BUILD)/libprovision-x-cli.a
CLI_BIN     := $(BUILD)/provision-x

# The Debian packages (make deb), built from a copy of the tree in
# build/deb/: dpkg-buildpackage writes into the parent of the tree it builds.
DEB_REVISION ?= 1
DEB_ARCH    := $(shell dpkg --print-architecture 2>/dev/null)
DEB         := $(BUILD)/deb/libnginx-mod-http-provision-x_$(VERSION)-$(DEB_REVISION)_$(DEB_ARCH).deb
DEB_INPUTS  := Makefile config config.make VERSION LICENSE CHANGELOG.md \
               $(wildcard debian/* debian/source/*) $(CORE_SRCS) \
               $(HEADERS) $(wildcard src/*.cpp) $(CLI_SRCS) \
               $(CLI_HEADERS) docs/provision-x.1 scripts/configure-nginx.sh \
               scripts/check-load.sh scripts/build-deb.sh

# The packages each kind of target needs; scripts/deps.sh installs the missing.
DEPS_BUILD  := nginx nginx-dev g++ make dpkg-dev libssl-dev libjansson-dev \
               libsimdjson-dev libpcre2-dev zlib1g-dev libcurl4-openssl-dev
DEPS_DEB    := debhelper fakeroot
DEPS_TEST   := googletest libgtest-dev clang-format perl libtest-base-perl \
               libtext-diff-perl liburi-perl libtest-longstring-perl \
               liblist-moreutils-perl libhttp-message-perl libipc-run-perl \
               libipc-run3-perl curl prometheus redis-server redis-tools \
               python3 python3-yaml openssl groff-base chromium

export TEST_NGINX_BINARY       ?= $(NGINX_BIN)
export TEST_NGINX_LOAD_MODULES ?= $(TOP)/$(MODULE)

DEPS_FUZZ   := clang-14 libclang-rt-14-dev
FUZZ_TIME   ?= 30

.PHONY: all module deps deps-build check unit lint test prove run fuzz clean \
        install uninstall deb compat

all: module $(CLI_BIN)

deps-build:
	@scripts/deps.sh $(DEPS_BUILD)

deps: deps-build
	@scripts/deps.sh $(DEPS_TEST)

$(NGX_TREE)/objs/Makefile: config config.make VERSION scripts/configure-nginx.sh
	scripts/configure-nginx.sh $(NGINX_SRC) $(TOP)/$(NGX_TREE) $(TOP)

# nginx's own make tracks the sources and headers listed in config.
module: $(NGX_TREE)/objs/Makefile
	$(MAKE) -s -C $(NGX_TREE) -f objs/Makefile modules
	cp $(NGX_TREE)/objs/$(MODULE_NAME).so $(MODULE)

check: module
	scripts/check-load.sh $(NGINX_BIN) $(TOP)/$(MODULE)

$(BUILD)/core/%.o: src/core/%.cpp $(HEADERS)
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) $(PX_CXXFLAGS) -c $< -o $@

$(BUILD)/unit/%.o: test/unit/%.cpp $(HEADERS) $(CLI_HEADERS) \
	    $(wildcard test/unit/*.hpp)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(PX_CXXFLAGS) -Itools \
	    -DPX_VECTORS_PATH='"$(TOP)/test/vectors.json"' \
	    -DPX_TEST_DATA='"$(TOP)/test/data"' -c $< -o $@

$(UNIT_BIN): $(UNIT_OBJS) $(CLI_LIB) $(CORE_OBJS)
	$(CXX) $(CXXFLAGS) -o $@ $^ -lgtest -lgtest_main -pthread $(CLI_LIBS)

unit: $(UNIT_BIN)
	$(UNIT_BIN) --gtest_brief=1

lint:
	scripts/lint.sh

# The command-line tools (tools/provision-x): not part of the module.  A
# library of everything but main(), which the unit tests link as well.
$(BUILD)/cli/%.o: tools/provision-x/%.cpp $(CLI_HEADERS) $(HEADERS)
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) $(PX_CXXFLAGS) -Itools -c $< -o $@

$(CLI_LIB): $(CLI_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(CLI_BIN): tools/provision-x/main.cpp $(CLI_LIB) $(CORE_OBJS) \
	    $(CLI_HEADERS) VERSION
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) $(PX_CXXFLAGS) -Itools \
	    -DPROVISION_X_VERSION='"$(VERSION)"' -o $@ $< $(CLI_LIB) \
	    $(CORE_OBJS) $(LDFLAGS) $(CLI_LIBS)

# t/080 installs the Debian packages: they are built first (when stale).
prove: module $(CLI_BIN) $(DEB)
	prove -I$(TOP)/t/lib -r t/

test: deps
	$(MAKE) module lint unit
	$(MAKE) prove
	$(MAKE) test-faults

fuzz:
	@scripts/deps.sh $(DEPS_BUILD) $(DEPS_FUZZ)
	fuzz/run.sh $(FUZZ_TIME)

# t/049-readme.t runs "make run" with a prefix of its own
PX_DEMO_PREFIX ?= $(TOP)/$(BUILD)/run

run: deps-build module $(CLI_BIN)
	scripts/run.sh $(NGINX_BIN) $(TOP)/$(MODULE) $(PX_DEMO_PREFIX)

clean:
	rm -rf $(BUILD) t/servroot*

# --- install, package, other nginx versions --------------------------------
#
# Where the distribution's nginx looks for modules (Debian and nginx.org
# packages: /usr/lib/nginx/modules).  A module only loads into the nginx
# version it was built against: rebuild it whenever nginx is upgraded.

NGINX_MODULES_DIR ?= $(or $(shell $(NGINX_BIN) -V 2>&1 | \
                       sed -n 's/.*--modules-path=\([^ ]*\).*/\1/p'), \
                       /usr/lib/nginx/modules)
NGINX_MODULES_CONF ?= /usr/share/nginx/modules-available
PREFIX      ?= /usr
DESTDIR     ?=
LOAD_CONF   := mod-http-provision-x.conf

install: module $(CLI_BIN)
	install -d $(DESTDIR)$(NGINX_MODULES_DIR) \
	    $(DESTDIR)$(NGINX_MODULES_CONF) $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 $(MODULE) $(DESTDIR)$(NGINX_MODULES_DIR)/
	echo 'load_module $(NGINX_MODULES_DIR)/$(MODULE_NAME).so;' \
	    >$(DESTDIR)$(NGINX_MODULES_CONF)/$(LOAD_CONF)
	chmod 644 $(DESTDIR)$(NGINX_MODULES_CONF)/$(LOAD_CONF)
	install -m 755 $(CLI_BIN) $(DESTDIR)$(PREFIX)/bin/provision-x
	install -m 644 docs/provision-x.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	@echo "enable it: ln -s $(NGINX_MODULES_CONF)/$(LOAD_CONF)" \
	    "/etc/nginx/modules-enabled/50-$(LOAD_CONF)"

uninstall:
	rm -f $(DESTDIR)$(NGINX_MODULES_DIR)/$(MODULE_NAME).so \
	    $(DESTDIR)$(NGINX_MODULES_CONF)/$(LOAD_CONF) \
	    $(DESTDIR)$(PREFIX)/bin/provision-x \
	    $(DESTDIR)$(PREFIX)/share/man/man1/provision-x.1

deb: $(DEB)

$(DEB): $(DEB_INPUTS)
	@scripts/deps.sh $(DEPS_BUILD) $(DEPS_DEB)
	scripts/build-deb.sh $(TOP) $(TOP)/$(BUILD)/deb $(DEB_REVISION)

# An nginx.org release (not in the repository): CI runs it when the tarball
# is there and says it skipped when not.
NGINX_TARBALL ?= $(TOP)/../shared/nginx/nginx-1.30.4.tar.gz

compat: $(CLI_BIN)
	scripts/compat.sh $(NGINX_TARBALL) $(TOP)/$(BUILD)/compat $(TOP)

# --- benchmarks and memory checkers (bench/; README "Benchmarks") ---------
#   make bench          wrk (the module and its OpenResty peer) + callgrind +
#                       worker memory + zone bytes -> bench/results.md
#   make test-asan      the Test::Nginx suite, module built with ASan+UBSan
#   make test-valgrind  Test::Nginx-format files under valgrind memcheck
#                       (a representative subset; ALL=1 runs every file)
#   make soak           simulated platform vs. a gateway that is reloaded
#                       and loses a worker; nothing lost, nothing doubled

DEPS_BENCH  := wrk libnginx-mod-http-echo libnginx-mod-http-lua \
               libnginx-mod-http-ndk lua-cjson valgrind redis-server \
               redis-tools python3 perl curl
# bench/run.sh takes ~8 min; the backstop should it hang
BENCH_TIMEOUT ?= 900
ASAN_BUILD  := build/asan
ASAN_FLAGS  := -fsanitize=address,undefined -fsanitize-recover=address \
               -fno-omit-frame-pointer
ALL         ?=

.PHONY: bench test-asan test-valgrind test-faults soak

$(BUILD)/core_ops: bench/core_ops.cpp bench/hmac_variants.cpp $(CORE_OBJS) \
	    $(HEADERS)
	$(CXX) $(CXXFLAGS) $(PX_CXXFLAGS) -o $@ bench/core_ops.cpp \
	    bench/hmac_variants.cpp $(CORE_OBJS) $(PX_LIBS)

bench: deps-build
	@scripts/deps.sh $(DEPS_BENCH)
	$(MAKE) module $(BUILD)/core_ops
	timeout -k 10 $(BENCH_TIMEOUT) bench/run.sh $(NGINX_BIN) \
	    $(TOP)/$(MODULE) $(TOP)/$(BUILD)/bench $(TOP)/$(BUILD)/core_ops

test-asan: deps
	@mkdir -p $(ASAN_BUILD)
	@echo '$(ASAN_FLAGS)' | cmp -s - $(ASAN_BUILD)/flags || { \
	    rm -rf $(ASAN_BUILD)/nginx; echo '$(ASAN_FLAGS)' >$(ASAN_BUILD)/flags; }
	PROVISION_X_CC_OPT="$(ASAN_FLAGS)" \
	PROVISION_X_LD_OPT="-fsanitize=address,undefined" \
	    $(MAKE) BUILD=$(ASAN_BUILD) module
	scripts/test-asan.sh $(NGINX_BIN) $(TOP)/$(ASAN_BUILD)/$(MODULE_NAME).so

# The fault-injection build (src/ngx_http_provision_x_faults.hpp): every
# failure point inside the gateway answers 5xx and marks nothing seen
# (t/090), and a movable clock crosses the 8 h of a Beijing-time nonce
# (t/091).
FAULTS_BUILD := build/faults
FAULTS_FLAGS := -DNGX_HTTP_PROVISION_X_FAULTS=1

test-faults: deps-build
	@mkdir -p $(FAULTS_BUILD)
	@echo '$(FAULTS_FLAGS)' | cmp -s - $(FAULTS_BUILD)/flags || { \
	    rm -rf $(FAULTS_BUILD)/nginx; \
	    echo '$(FAULTS_FLAGS)' >$(FAULTS_BUILD)/flags; }
	PROVISION_X_CC_OPT="$(FAULTS_FLAGS)" $(MAKE) BUILD=$(FAULTS_BUILD) module
	TEST_NGINX_LOAD_MODULES=$(TOP)/$(FAULTS_BUILD)/$(MODULE_NAME).so \
	    prove -I$(TOP)/t/lib t/090-faults.t t/091-beijing-clock.t

test-valgrind: deps module
	@scripts/deps.sh valgrind
	scripts/test-valgrind.sh $(NGINX_BIN) $(TOP)/$(MODULE) $(if $(ALL),all,subset)

# scripts/soak.pl bounds itself (SOAK_TIMEOUT seconds, then it stops nginx
# and fails); timeout(1) is the backstop should it hang anyway.
DEPS_SOAK    := perl libhttp-message-perl
SOAK_TIMEOUT ?= 330

soak: deps-build
	@scripts/deps.sh $(DEPS_SOAK)
	$(MAKE) module $(CLI_BIN)
	SOAK_TIMEOUT=$(SOAK_TIMEOUT) timeout -k 10 $$(($(SOAK_TIMEOUT) + 60)) \
	    scripts/soak.pl $(NGINX_BIN) $(TOP)/$(MODULE) $(TOP)/$(BUILD)/soak \
	    $(TOP)/$(CLI_BIN)
