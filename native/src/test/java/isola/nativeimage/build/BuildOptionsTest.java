package isola.nativeimage.build;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BuildOptionsTest {
    @Test
    void splitsJvmAndImageOptionsAndSubstitutes() {
        BuildOptions o = BuildOptions.parse("f", List.of("# comment", "", "jvm: -Xmx3g", "image: -H:Path=${out}/x"),
                Map.of("out", "/o"));
        assertEquals(List.of("-Xmx3g"), o.jvm());
        assertEquals(List.of("-H:Path=/o/x"), o.image());
    }

    @Test
    void aLineWithoutAKindIsAnErrorNamingFileAndLine() {
        var e = assertThrows(NativeBuild.BuildException.class,
                () -> BuildOptions.parse("opts", List.of("jvm: -Xmx1g", "-H:Foo"), Map.of()));
        assertTrue(e.getMessage().startsWith("opts:2:"), e.getMessage());
        assertTrue(e.getMessage().contains("-H:Foo"), e.getMessage());
    }

    @Test
    void anEmptyOptionIsAnError() {
        var e = assertThrows(NativeBuild.BuildException.class, () -> BuildOptions.parse("opts", List.of("image:"), Map.of()));
        assertTrue(e.getMessage().contains("opts:1"), e.getMessage());
    }

    @Test
    void anUnknownVariableIsAnErrorNamingIt() {
        var e = assertThrows(NativeBuild.BuildException.class,
                () -> BuildOptions.parse("opts", List.of("image: -H:Path=${nowhere}"), Map.of("out", "/o")));
        assertTrue(e.getMessage().contains("${nowhere}") && e.getMessage().contains("out"), e.getMessage());
    }

    /** The project's own options file parses, and says where the builder writes. */
    @Test
    void theProjectsOptionsFileParses() throws Exception {
        Path file = Path.of("native-image.options");
        assertTrue(Files.exists(file), "run from native/");
        BuildOptions o = BuildOptions.read(file, Map.of("graal.version", "25.0.1", "java.home", "/j", "out", "/o",
                "tmp", "/t", "clib", "/c"));
        assertTrue(o.image().contains("-H:Path=/o"), o.image().toString());
        assertTrue(o.image().contains("-H:+ExitAfterRelocatableImageWrite"), o.image().toString());
        assertTrue(o.jvm().contains("-XX:+EnableJVMCI"), o.jvm().toString());
    }

    /** Both images' files include the shared builder options; the bare-metal one adds its own. */
    @Test
    void theBareMetalOptionsIncludeTheBuildersAndAddTheirOwn() throws Exception {
        Map<String, String> v = Map.of("graal.version", "25.0.1", "java.home", "/j", "out", "/o", "tmp", "/t", "clib", "/c");
        BuildOptions o = BuildOptions.read(Path.of("../baremetal/baremetal-image.options"), v);
        assertTrue(o.jvm().contains("-XX:+EnableJVMCI"), o.jvm().toString());
        assertTrue(o.image().contains("-H:+ExitAfterRelocatableImageWrite"), o.image().toString());
        assertTrue(o.image().contains("-H:MicroArchitecture=compatibility"), o.image().toString());
        assertTrue(o.image().contains("-H:-SpawnIsolates"), o.image().toString());
        assertTrue(!o.image().contains("-H:Features=isola.nativeimage.NativeFeature"), "the hosted image's feature leaked in");
    }

    @Test
    void aMissingIncludeIsAnErrorNamingTheLineAndTheFile(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path f = Files.writeString(dir.resolve("a.options"), "jvm: -Xmx1g\ninclude: nowhere.options\n");
        var e = assertThrows(NativeBuild.BuildException.class, () -> BuildOptions.read(f, Map.of()));
        assertTrue(e.getMessage().contains("a.options:2") && e.getMessage().contains("nowhere.options"), e.getMessage());
    }

    @Test
    void anIncludeCycleIsAnError(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path f = Files.writeString(dir.resolve("self.options"), "include: self.options\n");
        var e = assertThrows(NativeBuild.BuildException.class, () -> BuildOptions.read(f, Map.of()));
        assertTrue(e.getMessage().contains("cycle"), e.getMessage());
    }

    /** The generated exports cover the JDK internals the builder needs, and no module it does not resolve. */
    @Test
    void exportsReachJdkInternalsOfResolvedModulesOnly() throws Exception {
        Path graal = Path.of("target", "graal");
        List<Path> jars;
        try (var s = Files.list(graal)) {
            jars = s.filter(p -> p.toString().endsWith(".jar")).toList();
        }
        List<String> args = ImageBuilder.exportsAndOpens(jars);
        assertTrue(args.stream().anyMatch(a -> a.startsWith("--add-exports=java.base/jdk.internal.misc=")), "jdk.internal.misc");
        assertTrue(args.stream().anyMatch(a -> a.startsWith("--add-exports=jdk.internal.vm.ci/jdk.vm.ci.meta=")), "jdk.vm.ci.meta");
        assertTrue(args.stream().noneMatch(a -> a.contains("jdk.incubator.") || a.contains("jdk.hotspot.agent")), "unresolved modules");
    }
}
