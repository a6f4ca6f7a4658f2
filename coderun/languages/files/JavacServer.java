// coderun's warm javac (sandbox/servers.py says why and what keeps it apart from the programs it compiles).
// Requests on stdin, replies on stdout, in servers.py's frames. Arguments: javac's options for every compile.
// It compiles in memory with -proc:none (no annotation processor: nothing of the program runs here) and
// keeps nothing of a request after replying but the file manager's index of the JDK and the classpath.
import javax.tools.*;
import java.io.*;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.*;

public final class JavacServer {
    static final class Source extends SimpleJavaFileObject {
        final String name, text;
        Source(String name, String text) {
            super(URI.create("string:///" + name), Kind.SOURCE);
            this.name = name;
            this.text = text;
        }
        @Override public CharSequence getCharContent(boolean ignoreEncodingErrors) { return text; }
        @Override public String getName() { return name; } // diagnostics say Problem.java:3, as javac's do
    }

    static final class Output extends SimpleJavaFileObject {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final String path;
        Output(String className) {
            super(URI.create("mem:///" + className.replace('.', '/') + ".class"), Kind.CLASS);
            path = className.replace('.', '/') + ".class";
        }
        @Override public OutputStream openOutputStream() { return bytes; }
    }

    public static void main(String[] args) throws IOException {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StandardJavaFileManager standard = javac.getStandardFileManager(null, Locale.ROOT, StandardCharsets.UTF_8);
        List<String> options = new ArrayList<>(Arrays.asList(args));
        options.add("-proc:none");
        DataInputStream in = new DataInputStream(new BufferedInputStream(System.in));
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(System.out));
        while (true) {
            List<JavaFileObject> sources = new ArrayList<>();
            try {
                int count = in.readInt();
                for (int i = 0; i < count; i++) {
                    String name = new String(read(in), StandardCharsets.UTF_8);
                    String text = new String(read(in), StandardCharsets.UTF_8);
                    if (name.endsWith(".java")) sources.add(new Source(name, text));
                }
            } catch (EOFException e) {
                return; // the runner is gone
            }
            List<Output> outputs = new ArrayList<>();
            JavaFileManager memory = new ForwardingJavaFileManager<JavaFileManager>(standard) {
                @Override
                public JavaFileObject getJavaFileForOutput(Location where, String className, JavaFileObject.Kind kind,
                                                           FileObject sibling) {
                    Output o = new Output(className);
                    outputs.add(o);
                    return o;
                }
            };
            StringWriter diagnostics = new StringWriter();
            boolean ok;
            try {
                ok = javac.getTask(diagnostics, memory, null, options, null, sources).call();
            } catch (Throwable t) { // javac's own crash (a stack overflow on deep nesting): the program's failure
                ok = false;
                diagnostics.write("javac failed: " + t);
            }
            byte[] text = diagnostics.toString().getBytes(StandardCharsets.UTF_8);
            out.writeInt(ok ? 0 : 1);
            out.writeInt(text.length);
            out.write(text);
            out.writeInt(ok ? outputs.size() : 0);
            if (ok) {
                for (Output o : outputs) {
                    byte[] name = o.path.getBytes(StandardCharsets.UTF_8), data = o.bytes.toByteArray();
                    out.writeInt(name.length);
                    out.write(name);
                    out.writeInt(data.length);
                    out.write(data);
                }
            }
            out.flush();
        }
    }

    static byte[] read(DataInputStream in) throws IOException {
        byte[] data = new byte[in.readInt()];
        in.readFully(data);
        return data;
    }
}
