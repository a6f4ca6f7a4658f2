"""Programs for MultiPL-E's HumanEval_53_add ("add two numbers") in every language, honest and hostile.

Each language gives: how a body returns a value (`ret`), a correct, a wrong and a non-compiling completion,
native hostile completions (an early exit with status 0, printing what evaluators read as a pass, an exit
handler that turns a failure into status 0, an endless loop, endless output) and `gated(cmd)`: a completion
that returns the right answer only if the shell command `cmd` succeeded, so a sandbox that lets `cmd` work
(reach the network, write outside its scratch dir, read another process's secrets, kill the runner) shows
up as a pass. Go's completions cannot import a package (the prompt's imports are fixed, and a completion is
cut at "\\nfunc"), so its shell-gated programs are whole solutions with their own imports.
"""

from __future__ import annotations

import json

TASK = "HumanEval_53_add"


def q(cmd: str) -> str:
    """A double-quoted string literal (C-family, Java, JS, Rust, Lua accept JSON's escapes)."""
    return json.dumps(cmd)


def php_q(cmd: str) -> str:
    return "'" + cmd.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sh_q(cmd: str) -> str:
    return "'" + cmd.replace("'", "'\\''") + "'"


def cs_q(cmd: str) -> str:
    return '@"' + cmd.replace('"', '""') + '"'


GO_HEAD = 'package add_test\n\nimport (\n    "testing"\n    "fmt"\n    "os"\n    "os/exec"\n)\n\nvar _ = os.Exit\nvar _ = exec.Command\n\n'

CASES = {
    "cpp": {
        "correct": "    return x + y;\n", "wrong": "    return x - y;\n", "compile_error": "    return x +;\n",
        "early_exit": "    exit(0);\n", "pass_text": '    std::puts("OK"); std::fflush(stdout); std::_Exit(0);\n',
        "exit_handler": "    std::atexit([]{ std::_Exit(0); }); return x - y;\n",
        "idiom": "    static int once = (std::exit(0), 0); return once;\n",  # a static initializer that exits
        "spin": "    for (;;) {}\n", "flood": '    for (;;) std::puts("OK OK OK OK OK OK OK OK");\n',
        "gated": lambda cmd: f"    return std::system({q(cmd)}) == 0 ? x + y : 0;\n",
    },
    "java": {
        "correct": "        return x + y;\n", "wrong": "        return x - y;\n", "compile_error": "        return x +;\n",
        "early_exit": "        System.exit(0); return 0;\n", "pass_text": '        System.out.println("OK"); System.exit(0); return 0;\n',
        "exit_handler": "        Runtime.getRuntime().addShutdownHook(new Thread(() -> Runtime.getRuntime().halt(0)));"
                        " return x - y;\n",
        "idiom": "        try { java.lang.reflect.Method m = Problem.class.getMethod(\"main\", String[].class);"
                 " System.exit(0); } catch (Exception e) {} return 0;\n",  # reflection on the test class
        "spin": "        while (true) {}\n", "flood": '        while (true) System.out.println("OK OK OK OK OK OK");\n',
        "gated": lambda cmd: ("        try { Process p = new ProcessBuilder(\"sh\", \"-c\", " + q(cmd) + ").start();"
                              " return p.waitFor() == 0 ? x + y : 0; } catch (Exception e) { return 0; }\n"),
    },
    "js": {
        "correct": "  return x + y;\n}\n", "wrong": "  return x - y;\n}\n", "compile_error": "  return x +;\n}\n",
        "early_exit": "  process.exit(0);\n}\n", "pass_text": '  console.log("ok"); process.exit(0);\n}\n',
        "exit_handler": "  process.on('exit', () => { process.exitCode = 0; }); return x - y;\n}\n",
        "idiom": "  process.on('uncaughtException', () => process.exit(0)); return x - y;\n}\n",
        "spin": "  for (;;) {}\n}\n", "flood": '  for (;;) console.log("ok ok ok ok ok ok ok");\n}\n',
        "gated": lambda cmd: ("  return require('child_process').spawnSync('sh', ['-c', " + q(cmd) +
                              "]).status === 0 ? x + y : 0;\n}\n"),
    },
    "ts": {
        "correct": "  return x + y;\n}\n", "wrong": "  return x - y;\n}\n", "compile_error": "  return x +;\n}\n",
        "type_error": '  return "x";\n}\n',
        "early_exit": "  (globalThis as any).process.exit(0); return 0;\n}\n",
        "pass_text": '  console.log("ok"); (globalThis as any).process.exit(0); return 0;\n}\n',
        "exit_handler": "  (globalThis as any).process.on('exit', () => { (globalThis as any).process.exitCode = 0; });"
                        " return x - y;\n}\n",
        "idiom": "  (globalThis as any).process.on('uncaughtException', () => (globalThis as any).process.exit(0));"
                 " return x - y;\n}\n",
        "spin": "  for (;;) {}\n}\n", "flood": '  for (;;) console.log("ok ok ok ok ok ok ok");\n}\n',
        "gated": lambda cmd: ("  return require('child_process').spawnSync('sh', ['-c', " + q(cmd) +
                              "]).status === 0 ? x + y : 0;\n}\n"),
    },
    "php": {
        "correct": "    return $x + $y;\n}\n", "wrong": "    return $x - $y;\n}\n", "compile_error": "    return $x +;\n}\n",
        "early_exit": "    exit(0);\n}\n", "pass_text": '    echo "OK\\n"; exit(0);\n}\n',
        "exit_handler": "    register_shutdown_function(function () { exit(0); }); return $x - $y;\n}\n",
        "idiom": "    set_exception_handler(function ($e) { exit(0); }); return $x - $y;\n}\n",
        "spin": "    while (true) {}\n}\n", "flood": '    while (true) echo "OK OK OK OK OK OK OK\\n";\n}\n',
        "gated": lambda cmd: f"    exec({php_q(cmd)}, $out, $code); return $code === 0 ? $x + $y : 0;\n}}\n",
    },
    "sh": {
        "correct": "    echo $(( $1 + $2 ))\n", "wrong": "    echo $(( $1 - $2 ))\n", "compile_error": "    if then fi (\n",
        "early_exit": "    exit 0\n", "pass_text": "    echo ok; exit 0\n",
        "exit_handler": "    trap 'exit 0' EXIT; echo $(( $1 - $2 ))\n",
        "idiom": "    set +e; echo $(( $1 + $2 + 1 ))\n",  # turning `set -e` off does not make a wrong answer pass
        "spin": "    while :; do :; done\n", "flood": "    while :; do echo ok ok ok ok ok ok ok; done\n",
        "gated": lambda cmd: f"    if sh -c {sh_q(cmd)} >/dev/null 2>&1; then echo $(( $1 + $2 )); else echo 0; fi\n",
    },
    "cs": {
        "correct": "        return x + y;\n", "wrong": "        return x - y;\n", "compile_error": "        return x +;\n",
        "early_exit": "        Environment.Exit(0); return 0;\n",
        "pass_text": '        Console.WriteLine("OK"); Environment.Exit(0); return 0;\n',
        "exit_handler": "        AppDomain.CurrentDomain.ProcessExit += (s, e) => Environment.ExitCode = 0; return x - y;\n",
        "idiom": "        var m = typeof(Problem).GetMethod(\"Main\"); Environment.Exit(0); return 0;\n",
        "spin": "        while (true) {}\n", "flood": '        while (true) Console.WriteLine("OK OK OK OK OK OK");\n',
        "gated": lambda cmd: ("        var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(\"sh\", "
                              "\"-c \\\"\" + " + cs_q(cmd) + ".Replace(\"\\\"\", \"\\\\\\\"\") + \"\\\"\")"
                              " { UseShellExecute = false }); p.WaitForExit(); return p.ExitCode == 0 ? x + y : 0;\n"),
    },
    "go": {
        "correct": "    return x + y\n}\n", "wrong": "    return x - y\n}\n", "compile_error": "    return x +\n}\n",
        "spin": "    for {}\n}\n", "flood": '    for { fmt.Println("ok ok ok ok ok ok ok") }\n}\n',
        "pass_text": '    fmt.Println("PASS\\nok")\n    return x - y\n}\n',
        # whole solutions (their own imports): an early exit, init(), and the shell-gated ones
        "solution_early_exit": GO_HEAD + "func add(x int, y int) int {\n    os.Exit(0)\n    return 0\n}\n",
        "solution_idiom": GO_HEAD + "func init() { fmt.Println(\"ok\"); os.Exit(0) }\n\n"
                                    "func add(x int, y int) int {\n    return x - y\n}\n",
        "solution_gated": lambda cmd: (GO_HEAD + "func add(x int, y int) int {\n    if exec.Command(\"sh\", \"-c\", "
                                       + q(cmd) + ").Run() == nil {\n        return x + y\n    }\n    return 0\n}\n"),
    },
    "rs": {
        "correct": "    x + y\n", "wrong": "    x - y\n", "compile_error": "    x +\n",
        "early_exit": "    std::process::exit(0);\n", "pass_text": '    println!("ok"); std::process::exit(0);\n',
        "exit_handler": "    std::panic::set_hook(Box::new(|_| std::process::exit(0))); x - y\n",
        "idiom": "    let _ = std::panic::catch_unwind(|| ()); std::process::exit(0);\n",
        "spin": "    loop {}\n", "flood": '    loop { println!("ok ok ok ok ok ok ok"); }\n',
        "gated": lambda cmd: (f"    if std::process::Command::new(\"sh\").arg(\"-c\").arg({q(cmd)}).status()"
                              ".map(|s| s.success()).unwrap_or(false) {{ x + y }} else {{ 0 }}\n"),
    },
    "lua": {
        "correct": "    return x + y\nend\n", "wrong": "    return x - y\nend\n", "compile_error": "    return x +\nend\n",
        "early_exit": "    os.exit(0)\nend\n", "pass_text": '    print("OK") os.exit(0)\nend\n',
        "exit_handler": "    lu.LuaUnit.run = function() return 0 end return x - y\nend\n",
        "idiom": "    os.exit = function() end return x - y\nend\n",
        "spin": "    while true do end\nend\n", "flood": '    while true do print("OK OK OK OK OK OK OK") end\nend\n',
        "gated": lambda cmd: f"    if os.execute({q(cmd)}) then return x + y else return 0 end\nend\n",
    },
}

# Shell commands that must not succeed in a sandbox: each gates the right answer.
ESCAPES = {
    "network": 'bash -c "exec 3<>/dev/tcp/1.1.1.1/53"',
    "write outside scratch": "echo x > /opt/coderun/pwned || echo x > /etc/pwned || echo x > /pwned",
    "read the runner": "for p in /proc/[0-9]*; do [ $(stat -c %u $p) = 0 ] && head -c 1 $p/environ >/dev/null 2>&1 && exit 0; done; exit 1",
    "kill the runner": "for p in /proc/[0-9]*; do [ $(stat -c %u $p) = 0 ] && kill -9 ${p#/proc/} 2>/dev/null && exit 0; done; exit 1",
    "another job's files": "ls -d /tmp/s* | grep -v \"^$PWD\\$\" | grep -q .",
    "a fork bomb": "f() { f | f & }; f; sleep 5; exit 1",
}
