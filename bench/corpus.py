#!/usr/bin/env python3
"""bench/corpus.py [BIN]: hpbuild on real CVE fixes from Debian 12 (`make corpus`).

Not part of `make check`: it downloads source packages and compiles parts of them
(about 60 MB of downloads, 10 minutes on 2 cores the first time and 0.5 GB of disk;
about 10 s once cached). Everything goes to CORPUS_CACHE (default .cache/corpus,
ignored by git).

For each package in PACKAGES:
  1. Fetch the source package from bookworm or bookworm-security through a private
     apt list (docs/dependencies.md; the system's apt configuration is not touched):
     the newest version the archive serves (a security version listed in the index
     but not yet served is skipped, and the next one tried).
  2. Unpack it (dpkg-source -x --skip-patches), apply debian/patches/series in order,
     configure it once as below (the package's build system, with Debian's flags from
     dpkg-buildflags plus what debian/rules adds), and record every compiler command
     of the library (bench/corpus-cc; nothing is compiled for real at this point).
  3. For each chosen patch, walking the series backwards: "new" is the tree with the
     patch, "old" the tree without it. The candidate translation units are those whose
     sources or headers (gcc -M) the patch touches; each is preprocessed both ways, and
     those whose preprocessed text differs are compiled both ways with the package's
     own command line plus -g -ffunction-sections -fdata-sections (column "-fs"), and
     plus -g alone (column "no -fs").
  4. hpbuild --old-dir --new-dir on each variant; the table prints the verdict, the
     functions the patch replaces, its size and hpbuild's time (median of 3).

Each row's expected verdict is listed in PATCHES with the reason; a row that differs
is marked UNEXPECTED and the exit status is 1. Per-row details (hpbuild's output and
--json report, the compile commands) are in CACHE/out/PACKAGE/PATCH/.

Environment: CORPUS_CACHE, CORPUS_JOBS (parallel compilers, default: the CPUs),
CORPUS_ONLY (space-separated package names), CORPUS_REFRESH=1 (look for newer
package versions even when one is cached).
"""
import concurrent.futures
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CACHE = os.path.abspath(os.environ.get("CORPUS_CACHE", os.path.join(ROOT, ".cache", "corpus")))
JOBS = int(os.environ.get("CORPUS_JOBS", str(os.cpu_count() or 2)))
WRAPPER = os.path.join(HERE, "corpus-cc")
VARIANTS = {"fs": ["-g", "-ffunction-sections", "-fdata-sections"], "nofs": ["-g"]}
# Bump when the way objects are made changes: cached objects are then rebuilt.
RECIPE = "corpus-v1"

# How each package is configured. "how" is what the README's notes say.
#   build: configure (autotools, in the tree), cmake (a build directory), openssl, make
#   dir:   the subdirectory holding the build system
#   args:  configure or cmake arguments; make: targets whose objects are recorded
#   env:   added to the environment of dpkg-buildflags (DEB_*_MAINT_*) and the build
#   skip:  series entries not applied (another flavour's patches)
PACKAGES = {
    "expat": dict(
        build="configure", dir="expat", pre=[["./buildconf.sh"]], make=["-C", "lib", "libexpat.la"],
        args=["--without-docbook", "--without-xmlwf", "--without-examples", "--without-tests"],
        how="buildconf.sh (autoreconf) and configure in expat/, as debian/rules"),
    "libxml2": dict(
        build="configure", make=["libxml2.la"], env={"DEB_CFLAGS_MAINT_APPEND": "-Wall -O3"},
        args=["--without-python", "--without-icu", "--without-lzma", "--without-readline",
              "--without-history"],
        how="configure as debian/rules (-Wall -O3 appended), without ICU and LZMA (Debian "
            "links both; they only add encoding and I/O back-ends)"),
    "tiff": dict(
        build="configure", pre=[["autoreconf", "-f", "-i"]], make=["-C", "libtiff", "libtiff.la"],
        env={"DEB_CFLAGS_MAINT_APPEND": "-Wall -pedantic -D_REENTRANT"},
        args=["--enable-ld-version-script", "--disable-docs", "--disable-jpeg", "--disable-old-jpeg",
              "--disable-jbig", "--disable-lzma", "--disable-zstd", "--disable-webp", "--disable-lerc",
              "--disable-libdeflate", "--disable-cxx"],
        how="autoreconf and configure as debian/rules (dh --with autoreconf); the zlib codecs "
            "on, the JPEG, JBIG, LZMA, ZSTD, WebP, LERC and libdeflate codecs off"),
    "libpng1.6": dict(
        build="configure", make=["libpng16.la"],
        args=["--disable-static"],
        how="configure; CFLAGS get CPPFLAGS appended as in debian/rules"),
    "curl": dict(
        build="configure", make=["-C", "lib", "libcurl.la"], skip=["90_gnutls.patch", "99_nss.patch"],
        env={"DEB_CFLAGS_MAINT_APPEND": '-D_DEB_HOST_ARCH=\\"x86_64-linux-gnu\\"'},
        args=["--disable-dependency-tracking", "--disable-symbol-hiding", "--enable-versioned-symbols",
              "--enable-threaded-resolver", "--with-openssl", "--with-libpsl", "--without-libidn2",
              "--without-nghttp2", "--without-brotli", "--without-zstd", "--without-librtmp",
              "--without-libssh", "--without-libssh2", "--disable-ldap", "--without-gssapi"],
        how="configure of the OpenSSL flavour (series without 90_gnutls/99_nss, as "
            "debian/rules), with libpsl, without the other optional libraries Debian "
            "links (nghttp2, libidn2, librtmp, libssh2, LDAP, GSSAPI, brotli, zstd)"),
    "openssl": dict(
        build="openssl",
        args=["shared", "--prefix=/usr", "--openssldir=/usr/lib/ssl", "--libdir=lib/x86_64-linux-gnu",
              "no-idea", "no-mdc2", "no-rc5", "no-zlib", "no-ssl3", "enable-unit-test",
              "no-ssl3-method", "enable-rfc3779", "enable-cms", "no-capieng", "no-rdrand",
              "enable-ec_nistp_64_gcc_128", "debian-amd64"],
        env={"DEB_BUILD_MAINT_OPTIONS": "hardening=+all future=+lfs"},
        how="Configure with debian/rules' arguments and its debian-amd64 target "
            "(the shared build), make build_libs"),
    "libssh": dict(
        build="cmake", args=["-DBUILD_STATIC_LIB=OFF", "-DUNIT_TESTING=OFF", "-DWITH_GSSAPI=OFF",
                             "-DWITH_EXAMPLES=OFF"],
        how="CMake as debian/rules' OpenSSL flavour, without GSSAPI"),
    "libarchive": dict(
        build="configure", make=["libarchive.la"],
        args=["--without-openssl", "--without-nettle", "--without-xml2", "--without-expat",
              "--without-lzma", "--without-zstd", "--without-lz4", "--without-bz2lib",
              "--without-libb2", "--without-iconv", "--disable-acl", "--disable-xattr",
              "--disable-bsdtar", "--disable-bsdcpio", "--disable-bsdcat"],
        how="configure; without the optional libraries (Debian links nettle, libxml2, "
            "lzma, zstd, lz4, bzip2, libb2, ACL and xattr support)"),
    "giflib": dict(
        build="make", make=["libgif.so"], make_args="OFLAGS",
        how="its Makefile, with OFLAGS=\"CPPFLAGS CFLAGS LDFLAGS\" as debian/rules"),
    "c-ares": dict(
        build="configure", make=["-C", "src/lib", "libcares.la"],
        args=["--enable-shared", "--enable-symbol-hiding", "--disable-tests"],
        how="configure with debian/rules' arguments"),
    "libwebp": dict(
        build="configure", pre=[["./autogen.sh"]], make=["-C", "src"],
        env={"DEB_CFLAGS_MAINT_APPEND": "-frename-registers"},
        args=["--enable-libwebpmux", "--enable-libwebpdemux", "--disable-png", "--disable-jpeg",
              "--disable-tiff", "--disable-gif", "--disable-wic", "--disable-gl", "--disable-sdl"],
        how="autogen.sh and configure as debian/rules (-frename-registers); the image "
            "formats of the tools off"),
    "openjpeg2": dict(
        build="cmake", env={"DEB_CFLAGS_MAINT_APPEND": "-fvisibility=hidden"},
        args=["-DBUILD_CODEC=OFF", "-DBUILD_SHARED_LIBS=ON", "-DBUILD_STATIC_LIBS=OFF",
              "-DBUILD_TESTING=OFF", "-DBUILD_DOC=OFF", "-DBUILD_THIRDPARTY=OFF"],
        how="CMake as debian/rules, library only"),
    "xz-utils": dict(
        build="configure", make=["-C", "src/liblzma", "liblzma.la"],
        args=["--enable-threads", "--disable-static", "--disable-xzdec", "--disable-lzmadec"],
        how="configure of debian/rules' normal build"),
}

# The patches: (package, patch file in debian/patches, expected verdict, why).
# Verdicts: patch (hpbuild wrote one), refused (exit 2, the safety gate), no change
# (exit 3), error (exit 1). The reason is the README's note for that row.
PATCHES = [
    ("expat", "CVE-2024-45490.patch", "patch", ""),
    ("expat", "CVE-2024-45491.patch", "no change",
     "correct: the new check is under #if UINT_MAX >= SIZE_MAX, false on x86-64; only line numbers move"),
    ("expat", "CVE-2024-45492.patch", "no change",
     "correct: the new check is under #if UINT_MAX >= SIZE_MAX, false on x86-64; only line numbers move"),
    ("expat", "expat-2.5.0-CVE-2023-52425.patch", "refused",
     "correct: struct XML_ParserStruct grows by 3 members (976 -> 992 bytes) and every live "
     "parser has the old layout"),
    ("expat", "expat-2.5.0-CVE-2024-50602.patch", "patch", ""),
    ("expat", "expat-2.5.0-CVE-2024-8176.patch", "refused",
     "correct: struct XML_ParserStruct grows again (entity and value stacks for the new "
     "iterative processing)"),
    ("libxml2", "CVE-2022-40303-Fix-integer-overflows-with-XML_PARSE_.patch", "patch", ""),
    ("libxml2", "CVE-2022-40304-Fix-dict-corruption-caused-by-entity-.patch", "patch", ""),
    ("libxml2", "CVE-2023-29469-Hashing-of-empty-dict-strings-isn-t-d.patch", "patch", ""),
    ("libxml2", "CVE-2024-25062.patch", "patch", ""),
    ("libxml2", "CVE-2025-6021.patch", "patch", ""),
    ("libxml2", "CVE-2025-9714.patch", "patch", ""),
    ("libxml2", "CVE-2025-7425.patch", "patch",
     "tree.h gains accessor macros, no layout change: 8 of the 44 files that include it change"),
    ("tiff", "CVE-2023-2731.patch", "patch", ""),
    ("tiff", "CVE-2023-2908.patch", "patch", ""),
    ("tiff", "CVE-2023-26966.patch", "patch", ""),
    ("tiff", "CVE-2023-52356.patch", "patch", ""),
    ("tiff", "CVE-2024-7006.patch", "patch", ""),
    ("libpng1.6", "CVE-2025-64505.patch", "patch", ""),
    ("libpng1.6", "CVE-2025-64506.patch", "patch", ""),
    ("libpng1.6", "CVE-2025-65018-part1.patch", "patch", ""),
    ("libpng1.6", "CVE-2026-33416-part1.patch", "patch", ""),
    ("curl", "CVE-2023-38545.patch", "patch", ""),
    ("curl", "CVE-2023-28320.patch", "no change",
     "correct: the fix is in the alarm() timeout of the synchronous resolver; Debian builds the "
     "threaded one, so that code is not compiled (an unused global goes away)"),
    ("curl", "CVE-2023-46218.patch", "patch", ""),
    ("curl", "CVE-2025-0167.patch", "patch", ""),
    ("curl", "CVE-2023-27535.patch", "refused",
     "correct: adds members to struct ftp_conn inside struct connectdata, and moves members of "
     "struct UserDefined and Curl_easy (urldata.h); 74 files change"),
    ("openssl", "Reject-oversized-inputs-in-ASN1_mbstring_ncopy.patch", "patch", ""),
    ("openssl", "cms-kek_unwrap_key-Fix-out-of-bounds-read-in-check-byte-v.patch", "patch", ""),
    ("openssl", "Match-the-local-q-DHX-parameter-against-the-peer-s-q.patch", "patch", ""),
    ("openssl", "Fix-possible-use-after-free-in-OpenSSL-PKCS7_verify.patch", "patch", ""),
    ("libssh", "0003-CVE-2025-4877-base64-Prevent-integer-overflow-and-po.patch", "patch", ""),
    ("libssh", "0004-CVE-2025-5318-sftpserver-Fix-possible-buffer-overrun.patch", "patch", ""),
    ("libssh", "0006-CVE-2025-5351-pki_crypto-Avoid-double-free-on-low-me.patch", "patch", ""),
    ("libssh", "CVE-2025-8114.patch", "patch", ""),
    ("libarchive", "fix-OOB-in-rar-e8-filter-2135.patch", "patch", ""),
    ("libarchive", "rar4-reader-protect-copy_from_lzss_window_to_unp-217.patch", "patch",
     "a static function's parameter goes int -> size_t; its only caller compiles to the same "
     "bytes in both builds, so it already passes what the new function reads"),
    ("libarchive", "CVE-2026-15028.patch", "patch", ""),
    ("giflib", "CVE-2026-23868.patch", "patch", ""),
    ("giflib", "CVE-2026-26740.patch", "patch", ""),
    ("c-ares", "CVE-2022-4904.diff", "patch", ""),
    ("c-ares", "CVE-2023-31130.diff", "patch", ""),
    ("c-ares", "CVE-2023-32067.diff", "patch", ""),
    ("libwebp", "CVE-2023-4863.patch", "refused",
     "correct: the Huffman tables become a new type, VP8LMetadata grows (88 -> 120 bytes) inside "
     "struct VP8LDecoder, and a global function's parameter type changes"),
    ("libwebp", "EncodeAlphaInternal-clear-result-bw-on-error.patch", "patch", ""),
    ("openjpeg2", "CVE-2023-39327.patch", "patch", ""),
    ("openjpeg2", "CVE-2024-56827.patch", "patch", ""),
    ("openjpeg2", "CVE-2026-6192.patch", "patch", ""),
    ("xz-utils", "liblzma-mt-dec-Don-t-free-the-input-buffer-too-early-CVE-.patch", "patch", ""),
]

APT_SOURCES = """Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


class Fail(Exception):
    """A package or a row that could not be prepared: the row says error and why."""


def log(msg):
    print("corpus: " + msg, file=sys.stderr, flush=True)


def run(cmd, cwd=None, env=None, check=True, out=None):
    """Run cmd; with out=PATH its stdout and stderr go there. Raise Fail when it fails."""
    kw = dict(cwd=cwd, env=env)
    if out:
        with open(out, "ab") as f:
            p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, **kw)
    else:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    if check and p.returncode != 0:
        tail = ""
        if out:
            with open(out, "rb") as f:
                tail = f.read()[-600:].decode(errors="replace")
        else:
            tail = p.stdout[-600:].decode(errors="replace")
        raise Fail("%s failed (exit %d)%s: %s" % (os.path.basename(cmd[0]), p.returncode,
                                                  " in " + cwd if cwd else "", tail.strip()))
    return p


def sha(data):
    return hashlib.sha256(data if isinstance(data, bytes) else data.encode()).hexdigest()


# ----- fetching --------------------------------------------------------------------

def apt_opts():
    a = os.path.join(CACHE, "apt")
    return ["-o", "Dir::Etc::SourceList=/dev/null", "-o", "Dir::Etc::SourceParts=" + a,
            "-o", "Dir::State::Lists=" + os.path.join(a, "lists"),
            "-o", "Dir::Cache=" + os.path.join(a, "cache")]


def apt_update():
    a = os.path.join(CACHE, "apt")
    os.makedirs(os.path.join(a, "lists", "partial"), exist_ok=True)
    os.makedirs(os.path.join(a, "cache"), exist_ok=True)
    src = os.path.join(a, "src.sources")
    if not os.path.exists(src) or open(src).read() != APT_SOURCES:
        with open(src, "w") as f:
            f.write(APT_SOURCES)
    stamp = os.path.join(a, "updated")
    if os.path.exists(stamp) and time.time() - os.path.getmtime(stamp) < 86400:
        return
    log("apt-get update (private lists in %s)" % a)
    run(["apt-get"] + apt_opts() + ["update", "-qq"])
    open(stamp, "w").close()


def version_key(v):
    """dpkg --compare-versions as a sort key is awkward; use sort -V semantics."""
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", v)]


def fetch(pkg):
    """Return the .dsc of the newest downloadable version of source package pkg."""
    d = os.path.join(CACHE, "dl", pkg)
    os.makedirs(d, exist_ok=True)
    have = sorted((f for f in os.listdir(d) if f.endswith(".dsc")), key=version_key)
    if have and os.environ.get("CORPUS_REFRESH") != "1":
        return os.path.join(d, have[-1])
    apt_update()
    p = run(["apt-cache"] + apt_opts() + ["showsrc", "--only-source", pkg], check=False)
    versions = sorted(set(re.findall(r"^Version: (\S+)$", p.stdout.decode(), re.M)),
                      key=version_key, reverse=True)
    if not versions:
        raise Fail("%s: not in bookworm or bookworm-security" % pkg)
    tried = []
    for v in versions:
        p = run(["apt-get"] + apt_opts() + ["source", "--download-only", "%s=%s" % (pkg, v)],
                cwd=d, check=False)
        dsc = [f for f in os.listdir(d) if f.endswith(".dsc") and f.split("_", 1)[1][:-4] ==
               v.split(":")[-1]]
        if p.returncode == 0 and dsc:
            return os.path.join(d, dsc[0])
        tried.append(v)
        log("%s=%s: not downloadable, trying the next version" % (pkg, v))
    raise Fail("%s: no version could be downloaded (tried %s)" % (pkg, ", ".join(tried)))


# ----- the tree ---------------------------------------------------------------------

def read_series(src):
    out = []
    with open(os.path.join(src, "debian", "patches", "series")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                parts = line.split()
                strip = "1"
                for o in parts[1:]:
                    if o.startswith("-p"):
                        strip = o[2:]
                out.append((parts[0], strip))
    return out


def patch_files(path):
    """The files a quilt patch touches, relative to the source root (-p1)."""
    files = []
    with open(path, "rb") as f:
        for line in f.read().decode(errors="replace").splitlines():
            if line.startswith("+++ ") or line.startswith("--- "):
                name = line[4:].split("\t")[0].strip()
                if name == "/dev/null":
                    continue
                name = name.split("/", 1)[1] if "/" in name else name
                if name not in files:
                    files.append(name)
    return files


def apply(src, name, strip, reverse=False):
    # No -E: a patch may create an empty file, which reverting it must find.
    cmd = ["patch", "-p" + strip, "-t", "-F", "0", "-N", "-u", "-V", "never",
           "--no-backup-if-mismatch", "--reject-file=-", "-s", "-i",
           os.path.join(src, "debian", "patches", name)]
    if reverse:
        cmd.insert(1, "-R")
    p = run(cmd, cwd=src, check=False)
    if p.returncode != 0:
        raise Fail("%s %s: %s" % ("reverting" if reverse else "applying", name,
                                  p.stdout.decode(errors="replace").strip()[:300]))


def buildflags(spec, src):
    env = dict(os.environ)
    env.update(spec.get("env", {}))
    flags = {}
    for var in ("CFLAGS", "CPPFLAGS", "LDFLAGS"):
        flags[var] = run(["dpkg-buildflags", "--get", var], cwd=src, env=env).stdout.decode().strip()
    return env, flags


def load_log(logdir):
    """Records written by corpus-cc: [(directory, argv)]."""
    recs = []
    for name in sorted(os.listdir(logdir)):
        with open(os.path.join(logdir, name), "rb") as f:
            parts = f.read().split(b"\0")
        if len(parts) < 3:
            continue
        d, n = parts[0].decode(), int(parts[1])
        recs.append((d, [x.decode() for x in parts[2:2 + n]]))
    return recs


def source_of(directory, argv):
    prev = None
    for a in argv[1:]:
        if a.endswith(".c") and not a.startswith("-") and prev != "-o":
            return os.path.normpath(os.path.join(directory, a))
        prev = a
    return None


def configure(pkg, spec, src, wd):
    """Configure the tree and return {relative source: (directory, argv)} of the library."""
    env, flags = buildflags(spec, src)
    top = os.path.join(src, spec.get("dir", ""))
    cfglog = os.path.join(wd, "configure.log")
    if os.path.exists(cfglog):
        os.unlink(cfglog)
    recs = []
    if spec["build"] == "cmake":
        b = os.path.join(src, "_corpus_build")
        env["CFLAGS"] = flags["CFLAGS"] + " " + flags["CPPFLAGS"]
        env["LDFLAGS"] = flags["LDFLAGS"]
        run(["cmake", "-S", top, "-B", b, "-DCMAKE_C_COMPILER=gcc", "-DCMAKE_BUILD_TYPE=None",
             "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"] + spec.get("args", []), env=env, out=cfglog)
        with open(os.path.join(b, "compile_commands.json")) as f:
            for c in json.load(f):
                argv = c["arguments"] if "arguments" in c else shlex.split(c["command"])
                recs.append((c["directory"], argv))
    else:
        logdir = os.path.join(wd, "cclog")
        shutil.rmtree(logdir, ignore_errors=True)
        os.makedirs(logdir)
        env.update(flags)
        env["CC"] = WRAPPER
        for cmd in spec.get("pre", []):
            run(cmd, cwd=top, env=env, out=cfglog)
        if spec["build"] == "configure":
            run(["./configure"] + spec.get("args", []), cwd=top, env=env, out=cfglog)
            targets = spec.get("make", [])
        elif spec["build"] == "openssl":
            run(["perl", "./Configure"] + spec.get("args", []), cwd=top, env=env, out=cfglog)
            targets = ["build_libs"]
        elif spec["build"] == "make":
            targets = spec.get("make", [])
            if spec.get("make_args") == "OFLAGS":
                targets = targets + ["CC=" + WRAPPER, "OFLAGS=%s %s %s" % (
                    flags["CPPFLAGS"], flags["CFLAGS"], flags["LDFLAGS"])]
        else:
            raise Fail("unknown build system " + spec["build"])
        env["CORPUS_CCLOG"] = logdir
        env["CORPUS_FAKE"] = "1"
        run(["make", "-k", "-j%d" % JOBS] + targets, cwd=top, env=env, check=False, out=cfglog)
        recs = load_log(logdir)
    cmds = {}
    for d, argv in recs:
        s = source_of(d, argv)
        if not s or not s.startswith(src + "/"):
            continue
        rel = os.path.relpath(s, src)
        # libtool compiles twice; the -fPIC one goes into the shared library.
        if rel not in cmds or ("-fPIC" in argv and "-fPIC" not in cmds[rel][1]):
            cmds[rel] = (d, argv)
    if not cmds:
        raise Fail("no compile command recorded for %s (see %s)" % (pkg, cfglog))
    return cmds


def base_args(argv):
    """A recorded command without its output, dependency and -c options."""
    out, skip = [], False
    for a in argv[1:]:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD", "-MP", "-M", "-MM") or a.startswith("-Wp,-M"):
            continue
        out.append(a)
    cc = argv[0]
    if os.path.basename(cc) == "corpus-cc":
        cc = os.environ.get("CORPUS_REAL_CC", "gcc")
    return [cc] + out


def deps(cmds, src, wd):
    """{tu: set of files (relative to src)} from gcc -M, computed once per package."""
    path = os.path.join(wd, "deps.json")
    key = sha(json.dumps(sorted(cmds.items())))
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        if saved.get("key") == key:
            return {k: set(v) for k, v in saved["deps"].items()}

    def one(item):
        rel, (d, argv) = item
        p = subprocess.run(base_args(argv) + ["-M"], cwd=d, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        files = {rel}
        if p.returncode == 0:
            text = p.stdout.decode(errors="replace").replace("\\\n", " ")
            for word in text.split(":", 1)[-1].split():
                f = os.path.normpath(os.path.join(d, word))
                if f.startswith(src + "/"):
                    files.add(os.path.relpath(f, src))
        return rel, files

    with concurrent.futures.ThreadPoolExecutor(JOBS) as ex:
        out = dict(ex.map(one, sorted(cmds.items())))
    with open(path, "w") as f:
        json.dump({"key": key, "deps": {k: sorted(v) for k, v in out.items()}}, f)
    return out


# ----- one patch --------------------------------------------------------------------

def obj_name(rel):
    return rel[:-2].replace("/", "__") + ".o" if rel.endswith(".c") else rel + ".o"


def preprocess(cmds, tus, dest):
    os.makedirs(dest, exist_ok=True)

    def one(rel):
        d, argv = cmds[rel]
        out = os.path.join(dest, obj_name(rel)[:-2] + ".i")
        p = subprocess.run(base_args(argv) + ["-E", "-P", "-o", out], cwd=d,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise Fail("preprocessing %s: %s" % (rel, p.stderr.decode(errors="replace")[-300:]))
        with open(out, "rb") as f:
            data = f.read()
        os.unlink(out)
        return rel, sha(data)

    with concurrent.futures.ThreadPoolExecutor(JOBS) as ex:
        return dict(ex.map(one, tus))


def compile_all(cmds, tus, dest, cmdlog):
    """Compile tus into dest/VARIANT/NAME.o for every variant."""
    jobs = []
    for v, extra in VARIANTS.items():
        os.makedirs(os.path.join(dest, v), exist_ok=True)
        for rel in tus:
            d, argv = cmds[rel]
            out = os.path.join(dest, v, obj_name(rel))
            jobs.append((d, base_args(argv) + extra + ["-c", "-o", out], rel))
    with open(cmdlog, "a") as f:
        for d, a, _ in jobs:
            f.write("cd %s && %s\n" % (shlex.quote(d), shlex.join(a)))

    def one(job):
        d, a, rel = job
        p = subprocess.run(a, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise Fail("compiling %s: %s" % (rel, p.stderr.decode(errors="replace")[-400:]))

    with concurrent.futures.ThreadPoolExecutor(JOBS) as ex:
        list(ex.map(one, jobs))


def prepare_patch(pkg, cmds, dep, src, name, strip, rowdir, stamp):
    """Tree at 'new' on entry and on return. Leaves rowdir/{old,new}/VARIANT/*.o."""
    files = patch_files(os.path.join(src, "debian", "patches", name))
    cands = sorted(t for t, fs in dep.items() if any(f in fs for f in files))
    shutil.rmtree(rowdir, ignore_errors=True)
    os.makedirs(rowdir)
    info = {"files": files, "candidates": cands, "changed": []}
    if cands:
        new_i = preprocess(cmds, cands, os.path.join(rowdir, "tmp"))
        apply(src, name, strip, reverse=True)
        try:
            old_i = preprocess(cmds, cands, os.path.join(rowdir, "tmp"))
            changed = [t for t in cands if old_i[t] != new_i[t]]
            info["changed"] = changed
            cmdlog = os.path.join(rowdir, "commands.txt")
            compile_all(cmds, changed, os.path.join(rowdir, "old"), cmdlog)
        finally:
            apply(src, name, strip)
        compile_all(cmds, changed, os.path.join(rowdir, "new"), cmdlog)
        shutil.rmtree(os.path.join(rowdir, "tmp"), ignore_errors=True)
    with open(os.path.join(rowdir, "tus.json"), "w") as f:
        json.dump(info, f, indent=1)
    with open(os.path.join(rowdir, "stamp"), "w") as f:
        f.write(stamp)


def prepare_package(pkg, rows):
    """Make the objects of every row of pkg that is not cached. Returns {patch: error}."""
    spec = PACKAGES[pkg]
    dsc = fetch(pkg)
    version = os.path.basename(dsc)[len(pkg) + 1:-4]
    wd = os.path.join(CACHE, "work", pkg)
    os.makedirs(wd, exist_ok=True)
    outdir = os.path.join(CACHE, "out", pkg)
    pkgkey = sha(json.dumps([RECIPE, version, spec, VARIANTS], sort_keys=True))
    errors = {}

    def stamp_of(name, src):
        with open(os.path.join(src, "debian", "patches", name), "rb") as f:
            return sha(pkgkey + sha(f.read()))

    def cached(name):
        st = os.path.join(outdir, name.replace("/", "__"), "stamp")
        saved = os.path.join(wd, "stamps.json")
        if not (os.path.exists(st) and os.path.exists(saved)):
            return False
        with open(saved) as f:
            j = json.load(f)
        want = j.get("stamps", {}).get(name) if j.get("key") == pkgkey else None
        return want is not None and open(st).read() == want

    todo = [r for r in rows if not cached(r)]
    if not todo:
        return version, errors
    log("%s %s: unpacking, patching, configuring" % (pkg, version))
    src = os.path.join(wd, "src")
    shutil.rmtree(src, ignore_errors=True)
    run(["dpkg-source", "--no-check", "-x", "--skip-patches", dsc, src], cwd=wd,
        out=os.path.join(wd, "unpack.log"))
    series = [(n, s) for n, s in read_series(src) if n not in spec.get("skip", [])]
    names = [n for n, _ in series]
    for r in todo:
        if r not in names:
            errors[r] = "not in debian/patches/series of %s" % version
    for n, s in series:
        apply(src, n, s)
    stamps = {n: stamp_of(n, src) for n in names}
    with open(os.path.join(wd, "stamps.json"), "w") as f:
        json.dump({"key": pkgkey, "stamps": stamps}, f)
    cmds = configure(pkg, spec, src, wd)
    dep = deps(cmds, src, wd)
    log("%s: %d translation units in the library; walking the series back" % (pkg, len(cmds)))
    # Walk back from the end of the series; at step i the tree holds patches 0..i.
    remaining = set(todo) - set(errors)
    for i in range(len(series) - 1, -1, -1):
        if not remaining:
            break
        n, s = series[i]
        if n in remaining:
            remaining.discard(n)
            try:
                prepare_patch(pkg, cmds, dep, src, n, s,
                              os.path.join(outdir, n.replace("/", "__")), stamps[n])
            except Fail as e:
                errors[n] = str(e)
        if remaining:
            try:
                apply(src, n, s, reverse=True)
            except Fail as e:
                for r in remaining:
                    errors[r] = str(e)
                break
    return version, errors


# ----- hpbuild ----------------------------------------------------------------------

def hpbuild(binpath, rowdir, variant):
    old = os.path.join(rowdir, "old", variant)
    new = os.path.join(rowdir, "new", variant)
    hpx = os.path.join(rowdir, "fix-%s.hpx" % variant)
    rep = os.path.join(rowdir, "hpbuild-%s.json" % variant)
    if not os.path.isdir(new) or not os.listdir(new):
        return dict(verdict="no change", functions=0, size=0, time=0.0, detail="no translation "
                    "unit's preprocessed code changed", changed=0)
    cmd = [os.path.join(binpath, "hpbuild"), "--old-dir", old, "--new-dir", new, "-o", hpx, "--json", rep]
    times = []
    for _ in range(3):
        if os.path.exists(hpx):
            os.unlink(hpx)
        t0 = time.monotonic()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        times.append(time.monotonic() - t0)
    with open(os.path.join(rowdir, "hpbuild-%s.txt" % variant), "wb") as f:
        f.write(p.stdout)
    verdict = {0: "patch", 2: "refused", 3: "no change"}.get(p.returncode, "error")
    r = dict(verdict=verdict, time=sorted(times)[1], functions=0, size=0, changed=0,
             detail=p.stdout.decode(errors="replace").strip().split("\n")[0][:300])
    try:
        with open(rep) as f:
            j = json.load(f)
        r["functions"] = len(j.get("functions", []))
        r["size"] = j.get("size", 0)
        for o in j.get("objects", []):
            for e in o.get("report", {}).get("entries", []):
                if e["kind"] == "func" and e["status"] in ("CHANGED", "NEW"):
                    r["changed"] += 1
        r["reasons"] = len(j.get("diagnostics", [])) if verdict == "refused" else 0
    except (OSError, ValueError):
        pass
    return r


def cves(pkg, name):
    p = os.path.join(CACHE, "work", pkg, "src", "debian", "patches", name)
    found = re.findall(r"CVE-\d{4}-\d+", name)
    if not found and os.path.exists(p):
        with open(p, "rb") as f:
            found = re.findall(r"CVE-\d{4}-\d+", f.read().decode(errors="replace"))
    out = []
    for c in found:
        if c not in out:
            out.append(c)
    return ", ".join(out) or "-"


def short(name):
    n = re.sub(r"\.(patch|diff)$", "", name)
    return n if len(n) <= 40 else n[:37] + "..."


def main():
    binpath = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bin"))
    only = os.environ.get("CORPUS_ONLY", "").split()
    os.makedirs(CACHE, exist_ok=True)
    pkgs = [p for p in PACKAGES if not only or p in only]
    t_all = time.monotonic()
    results = []
    versions = {}
    for pkg in pkgs:
        rows = [r for r in PATCHES if r[0] == pkg]
        t0 = time.monotonic()
        try:
            version, errors = prepare_package(pkg, [r[1] for r in rows])
        except Fail as e:
            version, errors = "?", {r[1]: str(e) for r in rows}
        versions[pkg] = (version, time.monotonic() - t0)
        for _, name, expect, why in rows:
            rowdir = os.path.join(CACHE, "out", pkg, name.replace("/", "__"))
            res = {}
            info = {"candidates": [], "changed": []}
            if name in errors:
                res = {v: dict(verdict="error", functions=0, size=0, time=0.0, changed=0,
                               detail=errors[name]) for v in VARIANTS}
            else:
                with open(os.path.join(rowdir, "tus.json")) as f:
                    info = json.load(f)
                for v in VARIANTS:
                    res[v] = hpbuild(binpath, rowdir, v)
            results.append((pkg, name, expect, why, info, res))
        log("%s %s: done in %.0f s" % (pkg, version, versions[pkg][1]))

    def cell(r):
        if r["verdict"] == "patch":
            return "patch: %d fn, %d B, %.0f ms" % (r["functions"], r["size"], r["time"] * 1000)
        if r["verdict"] == "refused":
            return "refused (%d reason%s), %.0f ms" % (r["reasons"], "" if r["reasons"] == 1 else "s", r["time"] * 1000)
        return r["verdict"]

    unexpected = 0
    print("| package | patch | CVE | TUs | verdict | functions | .hpx bytes | hpbuild | without -ffunction-sections | notes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for pkg, name, expect, why, info, res in results:
        fs, nofs = res["fs"], res["nofs"]
        note = why
        if fs["verdict"] != expect or nofs["verdict"] != expect:
            unexpected += 1
            note = "UNEXPECTED (expected %s): %s" % (expect, fs["detail"] if fs["verdict"] != expect
                                                     else nofs["detail"])
        tus = "%d" % len(info["changed"])
        if len(info["candidates"]) != len(info["changed"]):
            tus += " of %d" % len(info["candidates"])
        fn = str(fs["functions"]) if fs["verdict"] == "patch" else (
            "(%d changed)" % fs["changed"] if fs["verdict"] == "refused" else "-")
        size = str(fs["size"]) if fs["verdict"] == "patch" else "-"
        tm = "%.0f ms" % (fs["time"] * 1000) if fs["verdict"] in ("patch", "refused") else "-"
        verdict = fs["verdict"] + (" (%d reason%s)" % (fs["reasons"], "" if fs["reasons"] == 1 else "s") if fs["verdict"] == "refused" else "")
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            pkg, short(name), cves(pkg, name), tus, verdict, fn, size, tm, cell(nofs),
            note.replace("|", "\\|").replace("\n", " ")))
    print()
    print("| package | version | built with | C files in the library | preparing |")
    print("|---|---|---|---|---|")
    for p, (v, t) in versions.items():
        n = "-"
        dj = os.path.join(CACHE, "work", p, "deps.json")
        if os.path.exists(dj):
            with open(dj) as f:
                n = str(len(json.load(f)["deps"]))
        print("| %s | %s | %s | %s | %.0f s |" % (p, v, PACKAGES[p]["how"], n, t))
    print()
    print("Total %.0f s; objects, commands and hpbuild reports in %s/out." % (
        time.monotonic() - t_all, CACHE))
    if unexpected:
        log("%d rows differ from the expected verdict" % unexpected)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
