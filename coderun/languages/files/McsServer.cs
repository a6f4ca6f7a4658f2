// coderun's warm mcs (sandbox/servers.py says why and what keeps it apart from the programs it compiles).
// Requests on stdin, replies on stdout, in servers.py's frames. Arguments: mcs's options for every compile.
// It calls mcs's own in-process entry point (CompilerCallableEntryPoint.InvokeCompiler, made for repeated
// compiles: it resets the compiler's static state after each), so a compile here means what `mcs OPTIONS
// FILE` means. mcs compiles and runs nothing of the program. It reads sources from files and writes the
// assembly to one, so each request's files live in a directory of the request's own (mode 700 under this
// server's uid: it starts with umask 077), removed before the reply: nothing of it is left for the runner's
// check that a job left nothing behind in /tmp. Only the reply reaches the scratch dir, by the runner.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

public static class McsServer {
    static byte[] Read(Stream s, int n) {
        var buf = new byte[n];
        for (int at = 0; at < n;) {
            int got = s.Read(buf, at, n - at);
            if (got <= 0) throw new EndOfStreamException();
            at += got;
        }
        return buf;
    }

    static int ReadInt(Stream s) {
        var b = Read(s, 4);
        return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    }

    static void WriteInt(Stream s, int v) {
        s.WriteByte((byte)(v >> 24)); s.WriteByte((byte)(v >> 16)); s.WriteByte((byte)(v >> 8)); s.WriteByte((byte)v);
    }

    static void WriteBlob(Stream s, byte[] data) {
        WriteInt(s, data.Length);
        s.Write(data, 0, data.Length);
    }

    public static int Main(string[] args) {
        int pid = System.Diagnostics.Process.GetCurrentProcess().Id;
        string prefix = Path.Combine(Path.GetTempPath(), "coderun-mcs-" + pid);
        var input = Console.OpenStandardInput();
        var output = new BufferedStream(Console.OpenStandardOutput());
        for (long request = 0; ; request++) {
            var sources = new List<string>();
            string work = prefix + "-" + request;
            try {
                int count = ReadInt(input);
                Directory.CreateDirectory(work);
                Environment.CurrentDirectory = work; // diagnostics name Problem.cs(3,5), as mcs's own do
                for (int i = 0; i < count; i++) {
                    string name = Encoding.UTF8.GetString(Read(input, ReadInt(input)));
                    byte[] text = Read(input, ReadInt(input));
                    if (!name.EndsWith(".cs") || name.Contains("/")) continue;
                    File.WriteAllBytes(name, text);
                    sources.Add(name);
                }
            } catch (EndOfStreamException) {
                return 0; // the runner is gone
            }
            var diagnostics = new StringWriter();
            string outName = sources.Count > 0 ? Path.ChangeExtension(sources[0], ".exe") : "Problem.exe";
            var argv = new List<string>(args);
            argv.AddRange(sources);
            argv.Add("-out:" + outName);
            bool ok;
            try {
                ok = Mono.CSharp.CompilerCallableEntryPoint.InvokeCompiler(argv.ToArray(), diagnostics);
            } catch (Exception e) { // mcs's own crash: the program's failure, as a crashing mcs process would be
                ok = false;
                diagnostics.Write("mcs failed: " + e.GetType().Name + ": " + e.Message);
            }
            byte[] assembly = ok && File.Exists(outName) ? File.ReadAllBytes(outName) : null;
            Environment.CurrentDirectory = "/";
            Directory.Delete(work, true);
            WriteInt(output, assembly != null ? 0 : 1);
            WriteBlob(output, Encoding.UTF8.GetBytes(diagnostics.ToString()));
            WriteInt(output, assembly != null ? 1 : 0);
            if (assembly != null) {
                WriteBlob(output, Encoding.UTF8.GetBytes(outName));
                WriteBlob(output, assembly);
            }
            output.Flush();
        }
    }
}
