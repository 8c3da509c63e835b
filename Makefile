# hotpatch: build, test and try it.
#
#   make          build the tools into bin/
#   make check    install missing packages, build, run every test
#   make demo     install missing packages, build, run hpdiff on the bundled samples
#   make deps     install the Debian packages the project needs, when missing
#   make bench    benchmarks (downloads the SQLite amalgamation; minutes)
#   make asan     make check with AddressSanitizer and UBSan
#   make fuzz     libFuzzer on every reader, FUZZ_SECONDS (600) each; -j2 runs two at once
#   make realfix  hpbuild on Debian's security fixes to expat (downloads; a minute)
#   make corpus   hpbuild on 49 CVE fixes of 13 Debian packages (downloads; 10 minutes cold)
#   make faults   hpapply and its reverts killed at every step, ~2500 times (15 minutes)
#   make fleet-test  the Ansible collection rolls a patch out to 5 hosts made here (root; 2 minutes)
#   make install  the tools, man pages, completion, unit (PREFIX, DESTDIR); make uninstall
#   make deb      the Debian package in build/deb/, checked by lintian
#   make package-check  make deb, then install it here, use it, purge it (root; changes this machine)
#
# Dependencies point one way: formats <- differ <- cli, and formats <- signer.
# Each folder is one static library, but formats/, four: the base (libbase.a:
# context, arena, hash map, SHA-256, JSON, files) <- ELF (libelfread.a, -lelf)
# <- DWARF (libdwarfread.a, -ldwarf), and the base <- the container (libhpx.a,
# -lzstd); each has its header, formats/base.h, elfread.h, dwarfread.h, hpx.h.
# A tool links only what it uses: the applier no DWARF. Only signer/ uses
# OpenSSL and PKCS#11, so only what links it takes -lcrypto -ldl, and only
# what signs (hpsign, hpbuild) takes -lp11-kit: verifiers never load a module.

CC       ?= cc
ifeq ($(origin CC),default)
CC       := gcc
endif
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
CPPFLAGS += -I. -D_GNU_SOURCE
SAN      ?=
ALL_CFLAGS = $(WARN) $(CFLAGS) $(SAN)
LDLIBS_ELF   := -lelf
LDLIBS_DWARF := -ldwarf -lelf -lz
LDLIBS_CRYPTO := -lcrypto -ldl
# The LLVM-C disassembler, static x86 subset (docs/dependencies.md): only
# differ/disasm.c includes it, and the applier never links it.
LLVM_CONFIG  ?= llvm-config-14
LLVM_CFLAGS  := -I$(shell $(LLVM_CONFIG) --includedir 2>/dev/null)
LDLIBS_LLVM  := $(shell $(LLVM_CONFIG) --ldflags 2>/dev/null) \
	$(shell $(LLVM_CONFIG) --link-static --libs x86disassembler x86desc x86info mcdisassembler 2>/dev/null) \
	$(shell $(LLVM_CONFIG) --link-static --system-libs 2>/dev/null) -lstdc++
P11_CFLAGS   := $(shell pkg-config --cflags p11-kit-1 2>/dev/null || echo -I/usr/include/p11-kit-1)
# libp11-kit: pkcs11: URIs and p11-kit's module registry (signer/uri.c, pkcs11.c),
# linked only by what signs (hpsign, hpbuild) and signer's unit tests.
LDLIBS_P11   := $(shell pkg-config --libs p11-kit-1 2>/dev/null || echo -lp11-kit)
B        := build$(if $(SAN),-asan)
BIN      := $(B)/bin

# formats/, by part; every file of it must be in one (checked below).
BASE_SRC      := formats/ctx.c formats/hash.c formats/sha256.c formats/json.c formats/file.c
ELFREAD_SRC   := formats/elfread.c formats/obj.c formats/reloc-x86-64.c formats/elfimage.c
DWARFREAD_SRC := formats/dwarfread.c formats/dwlines.c formats/dwtypes.c
HPX_SRC       := formats/hpx.c
ifneq ($(sort $(wildcard formats/*.c)),$(sort $(BASE_SRC) $(ELFREAD_SRC) $(DWARFREAD_SRC) $(HPX_SRC)))
$(error formats/*.c and the parts' lists in the Makefile differ: put each file in one part)
endif
DIFFER_SRC  := $(wildcard differ/*.c)
LINKER_SRC  := $(wildcard linker/*.c)
RUNTIME_SRC := $(wildcard runtime/*.c runtime/*.S)
SIGNER_SRC  := $(wildcard signer/*.c)
CLI_LIB_SRC := cli/cli.c
TOOLS       := hpdiff hpbuild hpinspect hpsign hpverify hpapply hpstatus hpd

BASE_OBJ      := $(BASE_SRC:%.c=$(B)/%.o)
ELFREAD_OBJ   := $(ELFREAD_SRC:%.c=$(B)/%.o)
DWARFREAD_OBJ := $(DWARFREAD_SRC:%.c=$(B)/%.o)
HPX_OBJ       := $(HPX_SRC:%.c=$(B)/%.o)
DIFFER_OBJ  := $(DIFFER_SRC:%.c=$(B)/%.o)
LINKER_OBJ  := $(LINKER_SRC:%.c=$(B)/%.o)
RUNTIME_OBJ := $(patsubst %.S,$(B)/%.o,$(RUNTIME_SRC:%.c=$(B)/%.o))
SIGNER_OBJ  := $(SIGNER_SRC:%.c=$(B)/%.o)
CLI_LIB_OBJ := $(CLI_LIB_SRC:%.c=$(B)/%.o)

# The preload library (runtime/preload/; its rules are below).
PRELOAD_SRC := $(BASE_SRC) $(HPX_SRC) runtime/record.c runtime/link.c runtime/maps.c \
	runtime/index.c $(wildcard runtime/preload/*.c runtime/preload/*.S)
PRELOAD_OBJ := $(patsubst %.S,$(B)/pic/%.o,$(PRELOAD_SRC:%.c=$(B)/pic/%.o))
PRELOAD     := $(B)/lib/libhotpatch-load.so
PIC_CFLAGS  := $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden -ffunction-sections -fdata-sections

all: $(TOOLS:%=$(BIN)/%) $(PRELOAD) bin

# bin/ always points at the last plain build, for the README's commands.
bin: $(TOOLS:%=$(BIN)/%)
	@if [ -z "$(SAN)" ]; then rm -rf bin && ln -s $(BIN) bin; fi

# V=1 shows the commands.
Q := $(if $(V),,@)
say = $(if $(V),,@printf '  %-5s %s\n' $(1) $(2))

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(B)/%.o: %.S
	@mkdir -p $(dir $@)
	$(call say,AS,$<)
	$(Q)$(CC) $(CPPFLAGS) -c $< -o $@

$(B)/lib%.a:
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^
$(B)/libbase.a: $(BASE_OBJ)
$(B)/libelfread.a: $(ELFREAD_OBJ)
$(B)/libdwarfread.a: $(DWARFREAD_OBJ)
$(B)/libhpx.a: $(HPX_OBJ)
$(B)/libdiffer.a: $(DIFFER_OBJ)
$(B)/liblinker.a: $(LINKER_OBJ)
$(B)/libruntime.a: $(RUNTIME_OBJ)
$(B)/libsigner.a: $(SIGNER_OBJ)
$(B)/differ/disasm.o: CPPFLAGS += $(LLVM_CFLAGS)
# <p11-kit/pkcs11.h>, <p11-kit/uri.h>: PKCS#11 and p11-kit, for signer/ alone.
$(B)/signer/%.o: CPPFLAGS += $(P11_CFLAGS)
# p11-kit's proxy module, the last place signer/pkcs11.c looks for a key's module.
P11_PROXY    := $(shell pkg-config --variable=proxy_module p11-kit-1 2>/dev/null)
$(B)/signer/pkcs11.o: CPPFLAGS += $(if $(P11_PROXY),-DSIGNER_P11_PROXY='"$(P11_PROXY)"')
$(B)/libcli.a: $(CLI_LIB_OBJ)

$(BIN)/hpdiff: $(B)/cli/hpdiff.o $(B)/libcli.a $(B)/libdiffer.a $(B)/libdwarfread.a \
		$(B)/libelfread.a $(B)/libbase.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_DWARF) $(LDLIBS_LLVM)

$(BIN)/hpbuild: $(B)/cli/hpbuild.o $(B)/libcli.a $(B)/liblinker.a $(B)/libdiffer.a $(B)/libsigner.a \
		$(B)/libdwarfread.a $(B)/libelfread.a $(B)/libhpx.a $(B)/libbase.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_DWARF) -lzstd $(LDLIBS_CRYPTO) $(LDLIBS_P11) \
		$(LDLIBS_LLVM)

$(BIN)/hpinspect: $(B)/cli/hpinspect.o $(B)/libcli.a $(B)/libsigner.a $(B)/libhpx.a $(B)/libbase.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ -lzstd $(LDLIBS_CRYPTO)

$(BIN)/hpsign: $(B)/cli/hpsign.o $(B)/libcli.a $(B)/libsigner.a $(B)/libhpx.a $(B)/libbase.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ -lzstd $(LDLIBS_CRYPTO) $(LDLIBS_P11)

$(BIN)/hpverify: $(B)/cli/hpverify.o $(B)/libcli.a $(B)/libsigner.a $(B)/libhpx.a $(B)/libbase.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ -lzstd $(LDLIBS_CRYPTO)

# The applier links formats without DWARF, signer and runtime only: no differ,
# LLVM or DWARF (nm build/bin/hpapply shows no dw_ symbol).
$(BIN)/hpapply: $(B)/cli/hpapply.o $(B)/libcli.a $(B)/libruntime.a $(B)/libsigner.a $(B)/libhpx.a \
		$(B)/libelfread.a $(B)/libbase.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_ELF) -lzstd $(LDLIBS_CRYPTO)

# hpd and hpstatus link as hpapply does (they verify the stored patches again).
$(BIN)/hpd: $(B)/cli/hpd.o $(B)/libcli.a $(B)/libruntime.a $(B)/libsigner.a $(B)/libhpx.a \
		$(B)/libelfread.a $(B)/libbase.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_ELF) -lzstd $(LDLIBS_CRYPTO)

$(BIN)/hpstatus: $(B)/cli/hpstatus.o $(B)/libcli.a $(B)/libruntime.a $(B)/libsigner.a $(B)/libhpx.a \
		$(B)/libelfread.a $(B)/libbase.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_ELF) -lzstd $(LDLIBS_CRYPTO)

# ----- the preload library -------------------------------------------------
# libhotpatch-load.so (runtime/preload/, docs/preload.md) applies stored patches
# inside each process as its images load. It links formats/ base and hpx and
# the parts of runtime/ that touch no process, compiled position-independent
# with hidden symbols, and zstd statically: libc is its only dependency
# (readelf -d), and it exports dlopen and dlmopen only (exports.map). No
# sanitizer: it is loaded into processes that are not built for one. make
# install puts it in PKGLIBDIR (/usr/lib/x86_64-linux-gnu/hotpatch/).

$(B)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(PIC_CFLAGS) -MMD -MP -c $< -o $@

$(B)/pic/%.o: %.S
	@mkdir -p $(dir $@)
	$(call say,AS,$@)
	$(Q)$(CC) $(CPPFLAGS) -fPIC -c $< -o $@

$(PRELOAD): $(PRELOAD_OBJ) runtime/preload/exports.map
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(PIC_CFLAGS) -shared -o $@ $(PRELOAD_OBJ) \
		-Wl,--version-script=runtime/preload/exports.map -Wl,--exclude-libs,ALL \
		-Wl,--gc-sections -Wl,-z,defs -Wl,-z,now -Wl,-z,relro -Wl,--build-id \
		-Wl,-Bstatic -lzstd -Wl,-Bdynamic

preload: $(PRELOAD)
.PHONY: preload

# ----- tests ---------------------------------------------------------------

UNIT_SRC  := $(wildcard tests/unit/*/*.c)
# tests/unit/helpers.c is compiled by the pattern rule above into $(UNIT_HELP).
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)
UNIT_HELP := $(B)/tests/unit/helpers.o
# All of formats/, in link order (a part before what it depends on).
FORMATS_LIBS = $(B)/libdwarfread.a $(B)/libelfread.a $(B)/libhpx.a $(B)/libbase.a

$(B)/tests/unit/%: tests/unit/%.c $(UNIT_HELP) $(B)/liblinker.a $(B)/libdiffer.a $(FORMATS_LIBS)
	@mkdir -p $(dir $@)
	$(call say,CCLD,$@)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -o $@ $< $(UNIT_HELP) $(B)/liblinker.a \
		$(B)/libdiffer.a $(FORMATS_LIBS) $(LDLIBS_DWARF) -lzstd -lcmocka $(LDLIBS_LLVM)

# signer's tests also link signer/, OpenSSL and p11-kit (the shorter stem makes this
# rule win); the helpers read objects, hence ELF.
$(B)/tests/unit/signer/%: tests/unit/signer/%.c $(UNIT_HELP) $(B)/libsigner.a $(B)/libhpx.a \
		$(B)/libelfread.a $(B)/libbase.a
	@mkdir -p $(dir $@)
	$(call say,CCLD,$@)
	$(Q)$(CC) $(CPPFLAGS) $(P11_CFLAGS) $(ALL_CFLAGS) -MMD -MP -o $@ $< $(UNIT_HELP) \
		$(B)/libsigner.a $(B)/libhpx.a $(B)/libelfread.a $(B)/libbase.a $(LDLIBS_ELF) -lzstd \
		$(LDLIBS_CRYPTO) $(LDLIBS_P11) -lcmocka

# runtime's tests link the runtime, and libseccomp to build real filters; no DWARF, as the applier.
$(B)/tests/unit/runtime/%: tests/unit/runtime/%.c $(UNIT_HELP) $(B)/libruntime.a $(B)/libhpx.a \
		$(B)/libelfread.a $(B)/libbase.a
	@mkdir -p $(dir $@)
	$(call say,CCLD,$@)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -o $@ $< $(UNIT_HELP) $(B)/libruntime.a \
		$(B)/libhpx.a $(B)/libelfread.a $(B)/libbase.a $(LDLIBS_ELF) -lzstd $(LDLIBS_CRYPTO) \
		-lseccomp -lcmocka

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

samples: $(BIN)/hpdiff $(BIN)/hpbuild $(BIN)/hpinspect
	HPBUILD=$(BIN)/hpbuild HPINSPECT=$(BIN)/hpinspect tests/samples.sh $(BIN)/hpdiff

e2e: $(TOOLS:%=$(BIN)/%)
	@set -e; for t in tests/e2e/*.sh; do echo "== $$t"; BIN=$(BIN) sh $$t; done

# The manual pages: mandoc's and groff's lint, and each tool's --help options in its page.
man-lint: $(TOOLS:%=$(BIN)/%)
	BIN=$(BIN) sh tests/man.sh
.PHONY: man-lint

# Known-bad inputs and the one line each must produce (tests/golden-bad/gen.py).
golden-bad: $(TOOLS:%=$(BIN)/%)
	sh tests/golden-bad/run.sh $(BIN)

# ----- fuzzing ---------------------------------------------------------------
# tests/fuzz/<target>.c is one libFuzzer entry point per reader. make check links
# each with tests/fuzz/replay.c and runs its corpus once; make fuzz links each with
# libFuzzer (clang, ASan, UBSan) into build-fuzz/ and mutates for FUZZ_SECONDS.

FUZZ_TARGETS := hpx hpx_payload verify elf dwarf image hpdiff state
FUZZ_LIBS    = $(B)/libruntime.a $(B)/liblinker.a $(B)/libdiffer.a $(B)/libsigner.a $(FORMATS_LIBS)
FUZZ_LDLIBS  := $(LDLIBS_DWARF) -lzstd $(LDLIBS_CRYPTO) $(LDLIBS_LLVM)
FUZZ_SECONDS ?= 600
FUZZ_TIMEOUT ?= 10
FUZZ_RSS_MB  ?= 2048
FUZZ_B       := build-fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

$(B)/fuzz/%: tests/fuzz/%.c $(B)/tests/fuzz/replay.o $(FUZZ_LIBS)
	@mkdir -p $(dir $@)
	$(call say,CCLD,$@)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -o $@ $< $(B)/tests/fuzz/replay.o \
		$(FUZZ_LIBS) $(FUZZ_LDLIBS)

fuzz-replay: $(FUZZ_TARGETS:%=$(B)/fuzz/%)
	@set -e; for t in $(FUZZ_TARGETS); do $(B)/fuzz/$$t tests/fuzz/corpus/$$t; done

$(B)/libfuzzer/%: tests/fuzz/%.c $(FUZZ_LIBS)
	@mkdir -p $(dir $@)
	$(call say,CCLD,$@)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIBS) $(FUZZ_LDLIBS)

fuzz-targets: $(FUZZ_TARGETS:%=$(B)/libfuzzer/%)

# One target: mutate from the committed corpus into build-fuzz/corpus/T (kept
# between runs); a crash lands in build-fuzz/crashes/T/ and fails the run.
fuzz-run-%:
	@mkdir -p $(FUZZ_B)/corpus/$* $(FUZZ_B)/crashes/$*
	@echo "fuzz $*: $(FUZZ_SECONDS) s, log in $(FUZZ_B)/$*.log"
	@$(FUZZ_B)/libfuzzer/$* -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) \
		-rss_limit_mb=$(FUZZ_RSS_MB) -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_B)/crashes/$*/ $(FUZZ_B)/corpus/$* tests/fuzz/corpus/$* \
		> $(FUZZ_B)/$*.log 2>&1 || { tail -60 $(FUZZ_B)/$*.log; \
		echo "fuzz $*: FAILED; the input is in $(FUZZ_B)/crashes/$*/"; exit 1; }
	@sh tests/fuzz/summary.sh $* $(FUZZ_B)/$*.log

fuzz: deps
	$(MAKE) fuzz-targets B=$(FUZZ_B) CC=clang CFLAGS="-O1 -g" \
		SAN="-fsanitize=fuzzer-no-link $(FUZZ_SAN)"
	$(MAKE) $(FUZZ_TARGETS:%=fuzz-run-%)

check: deps
	$(MAKE) all
	$(MAKE) unit samples e2e fuzz-replay golden-bad man-lint $(if $(SAN),,faults-short)
	@echo "make check: all tests passed"

asan:
	$(MAKE) check SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" CFLAGS="-O1 -g"

demo: deps
	$(MAKE) all
	bash samples/live-server/demo.sh bin
	@echo; echo "== hpdiff on every sample (samples/*/old.c -> new.c, gcc -O2)"
	sh samples/demo.sh bin

# npm for the SQLite amalgamation, unless a node install already has it; GNU time.
bench: deps
	$(MAKE) deps DEB_PACKAGES="time $$(command -v npm >/dev/null || echo npm)"
	$(MAKE) all
	bench/run.sh bin

# The Ansible collection (fleet/) against 5 hosts made on this machine
# (network, PID and mount namespaces, sshd each); needs root. Not in make check.
fleet-test: deps
	$(MAKE) deps DEB_PACKAGES="ansible-core openssh-server openssh-client iproute2 util-linux"
	$(MAKE) all
	BIN=$(BIN) bash tests/fleet/run.sh

corpus: deps
	$(MAKE) deps DEB_PACKAGES="dpkg-dev debian-archive-keyring patch xz-utils cmake autoconf automake libtool zlib1g-dev libpsl-dev"
	$(MAKE) all
	python3 bench/corpus.py bin

realfix: deps
	$(MAKE) all
	tests/realfix.sh bin

# ----- install and package -----------------------------------------------------
# make install / make uninstall, GNU style: PREFIX (/usr/local) and the
# directories below can be set on the command line, DESTDIR stages the install
# in another root. The tools look for their files at fixed places whatever the
# prefix (/etc/hotpatch/trusted.d, /var/lib/hotpatch, /var/log/hotpatch, and
# /run/hotpatch); SYSCONFDIR and LOCALSTATEDIR only say where install makes
# those directories. make deb builds the Debian package into build/deb/ and
# runs lintian on it; make package-check installs it here and tests it
# (tests/package.sh).

PREFIX        ?= /usr/local
BINDIR        ?= $(PREFIX)/bin
SBINDIR       ?= $(PREFIX)/sbin
DATADIR       ?= $(PREFIX)/share
MANDIR        ?= $(DATADIR)/man
DOCDIR        ?= $(DATADIR)/doc/hotpatch
SYSCONFDIR    ?= /etc
LOCALSTATEDIR ?= /var
UNITDIR       ?= $(PREFIX)/lib/systemd/system
COMPLETIONDIR ?= $(DATADIR)/bash-completion/completions
# libhotpatch-load.so is a plugin for LD_PRELOAD or /etc/ld.so.preload, not a
# library to link with: a private folder (docs/preload.md).
PKGLIBDIR     ?= $(PREFIX)/lib/$(shell $(CC) -print-multiarch 2>/dev/null)/hotpatch
INSTALL       ?= install

# hpd is the administrator's (sbin); the rest are everyone's.
USER_TOOLS := hpdiff hpbuild hpinspect hpsign hpverify hpapply hpstatus
ifneq ($(sort $(TOOLS)),$(sort $(USER_TOOLS) hpd))
$(error TOOLS and USER_TOOLS + hpd differ: say where a new tool is installed)
endif
MAN_PAGES := $(wildcard man/*.[1-8])
# The documents keep their folders, so that their links to each other work.
DOCS := README.md formats/hpx-format.md differ/report-format.md $(wildcard docs/*.md) \
	$(wildcard docs/json/*.json)
DOC_DIRS := docs/json docs formats differ

# The tools alone (all also points bin/ at them).
tools: $(TOOLS:%=$(BIN)/%) $(PRELOAD)

install: $(TOOLS:%=$(BIN)/%) $(PRELOAD)
	$(INSTALL) -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(SBINDIR)' '$(DESTDIR)$(PKGLIBDIR)'
	$(INSTALL) -m 0755 $(USER_TOOLS:%=$(BIN)/%) '$(DESTDIR)$(BINDIR)'
	$(INSTALL) -m 0755 $(BIN)/hpd '$(DESTDIR)$(SBINDIR)'
	$(INSTALL) -m 0644 $(PRELOAD) '$(DESTDIR)$(PKGLIBDIR)'
	@set -e; for p in $(MAN_PAGES); do \
		d='$(DESTDIR)$(MANDIR)'/man$${p##*.}; \
		echo "$(INSTALL) -m 0644 $$p $$d"; \
		$(INSTALL) -d "$$d"; $(INSTALL) -m 0644 "$$p" "$$d"; \
	done
	$(INSTALL) -d '$(DESTDIR)$(COMPLETIONDIR)'
	$(INSTALL) -m 0644 cli/completion.bash '$(DESTDIR)$(COMPLETIONDIR)/hpdiff'
	for t in $(filter-out hpdiff,$(TOOLS)); do ln -sf hpdiff '$(DESTDIR)$(COMPLETIONDIR)'/$$t; done
	$(INSTALL) -d '$(DESTDIR)$(UNITDIR)'
	sed -e 's|^ExecStart=[^ ]*/hpd\b|ExecStart=$(SBINDIR)/hpd|' \
	    -e 's|^Documentation=file://.*/README.md|Documentation=file://$(DOCDIR)/README.md|' \
	    cli/hotpatch.service > '$(DESTDIR)$(UNITDIR)/hotpatch.service'
	chmod 0644 '$(DESTDIR)$(UNITDIR)/hotpatch.service'
	grep -q '^ExecStart=$(SBINDIR)/hpd' '$(DESTDIR)$(UNITDIR)/hotpatch.service'
	@set -e; for f in $(DOCS); do \
		d='$(DESTDIR)$(DOCDIR)'/$$(dirname $$f); \
		$(INSTALL) -d "$$d"; $(INSTALL) -m 0644 "$$f" "$$d"; \
	done
	$(INSTALL) -d -m 0755 '$(DESTDIR)$(SYSCONFDIR)/hotpatch' '$(DESTDIR)$(SYSCONFDIR)/hotpatch/trusted.d'
	$(INSTALL) -d -m 0700 '$(DESTDIR)$(LOCALSTATEDIR)/lib/hotpatch'
	$(INSTALL) -d -m 0750 '$(DESTDIR)$(LOCALSTATEDIR)/log/hotpatch'

# What install put, but the store's contents and the logs: their folders and
# the trust store's go only when empty.
uninstall:
	rm -f $(USER_TOOLS:%='$(DESTDIR)$(BINDIR)'/%) '$(DESTDIR)$(SBINDIR)/hpd'
	rm -f '$(DESTDIR)$(PKGLIBDIR)/libhotpatch-load.so'
	rmdir '$(DESTDIR)$(PKGLIBDIR)' 2>/dev/null || true
	rm -f $(foreach p,$(MAN_PAGES),'$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(notdir $(p))')
	rm -f $(TOOLS:%='$(DESTDIR)$(COMPLETIONDIR)'/%) '$(DESTDIR)$(UNITDIR)/hotpatch.service'
	rm -f $(DOCS:%='$(DESTDIR)$(DOCDIR)'/%)
	rmdir $(DOC_DIRS:%='$(DESTDIR)$(DOCDIR)'/%) '$(DESTDIR)$(DOCDIR)' 2>/dev/null || true
	rmdir '$(DESTDIR)$(SYSCONFDIR)/hotpatch/trusted.d' '$(DESTDIR)$(SYSCONFDIR)/hotpatch' \
		'$(DESTDIR)$(LOCALSTATEDIR)/lib/hotpatch' '$(DESTDIR)$(LOCALSTATEDIR)/log/hotpatch' \
		2>/dev/null || true

# The package: built with dpkg-buildpackage in a copy of the tree under
# build/deb/ (it writes into the tree it builds and the .deb beside it), the
# .deb, .buildinfo and .changes left in build/deb/, then lintian, which must
# find no error. Its tools are installed here, not by make deps: make check
# needs none of them.
DEB_TOOLS := debhelper lintian dpkg-dev fakeroot
DEB_DIR   := build/deb

deb: deps
	$(MAKE) deps DEB_PACKAGES="$(DEB_TOOLS)"
	@v=$$(sed -n 's/^#define HP_VERSION "\(.*\)"$$/\1/p' formats/base.h); \
	c=$$(dpkg-parsechangelog -S Version); \
	[ "$$v" = "$$c" ] || { echo "make deb: debian/changelog is at $$c, HP_VERSION at $$v"; exit 1; }
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	@if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then \
		git ls-files -co --exclude-standard | while IFS= read -r f; do \
			[ -e "$$f" ] && printf '%s\n' "$$f"; done | tar -cf - -T -; \
	else \
		tar --exclude=./build --exclude=./build-asan --exclude=./build-fuzz \
			--exclude=./bin --exclude=./.git -cf - .; \
	fi | tar -xf - -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b
	rm -rf $(DEB_DIR)/src
	lintian --fail-on error $(DEB_DIR)/*.changes
	@ls -l $(DEB_DIR)/*.deb

# Installs the package on this machine, checks it, purges it (root).
package-check:
	MAKE="$(MAKE)" sh tests/package.sh

.PHONY: tools install uninstall deb package-check

# ----- dependencies --------------------------------------------------------

# Why each is needed: docs/dependencies.md (clang: the unversioned driver the tests call).
DEB_PACKAGES := build-essential pkg-config libelf-dev libdwarf-dev \
	libzstd-dev zstd libssl-dev openssl libcmocka-dev llvm-14-dev clang-14 clang \
	libclang-rt-14-dev softhsm2 opensc p11-kit p11-kit-modules libp11-kit-dev python3 \
	python3-jsonschema ninja-build strace libseccomp-dev mandoc man-db bash-completion
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

format:
	git diff --name-only HEAD -- '*.c' '*.h' | xargs -r clang-format -i

clean:
	rm -rf build build-asan build-fuzz bin

.PHONY: all bin unit samples e2e check asan demo bench corpus realfix deps format clean fuzz fleet-test \
	fuzz-replay fuzz-targets golden-bad

-include $(shell find build build-asan build-fuzz -name '*.d' 2>/dev/null)

# Keep intermediate objects (tests/unit/helpers.o) between runs.
.SECONDARY:

# Fault injection into hpapply (tests/faults/run.sh; needs strace): ~2500 trials, or ~520.
faults faults-short: $(TOOLS:%=$(BIN)/%)
	BIN=$(BIN) bash tests/faults/run.sh $(if $(filter faults,$@),long,short)
.PHONY: faults faults-short
