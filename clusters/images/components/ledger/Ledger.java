import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryUsage;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;

/**
 * A small JVM service for the OOMKilled scenario. It keeps a live set on the heap (HEAP_LIVE_MB) and a
 * response cache in direct buffers (DIRECT_CACHE_MB), filled at DIRECT_FILL_MB_PER_S as traffic warms it.
 * The cache grows until it reaches its target or the JVM refuses more direct memory (then it stops growing,
 * as Netty-style pools do); it never logs why memory grows. /memory is what a metrics agent scrapes: the
 * JVM's own view (heap used and max, non-heap, direct buffers, threads) beside the kernel's (VmRSS, cgroup).
 */
public final class Ledger {
  private static final List<byte[]> heapLive = new ArrayList<>();
  private static final List<ByteBuffer> directCache = new ArrayList<>();
  private static volatile long directBytes = 0;
  private static volatile String cacheState = "filling";

  public static void main(String[] args) throws Exception {
    int port = intEnv("PORT", 8080);
    int heapLiveMb = intEnv("HEAP_LIVE_MB", 48);
    int directTargetMb = intEnv("DIRECT_CACHE_MB", 16);
    int fillPerSecondMb = intEnv("DIRECT_FILL_MB_PER_S", 8);

    for (int i = 0; i < heapLiveMb; i++) heapLive.add(touch(new byte[1 << 20]));

    HttpServer server = HttpServer.create(new InetSocketAddress(port), 64);
    server.setExecutor(Executors.newFixedThreadPool(8));
    server.createContext("/healthz", ex -> reply(ex, 200, "ok\n", "text/plain"));
    server.createContext("/memory", ex -> reply(ex, 200, memoryJson(), "application/json"));
    server.createContext("/", ex -> reply(ex, 200, "ledger: " + heapLive.size() + " MiB on heap, " + (directBytes >> 20) + " MiB cached off-heap\n", "text/plain"));
    server.start();
    System.out.println("ledger listening on :" + port + " (heap live set " + heapLiveMb + " MiB, response cache target " + directTargetMb + " MiB)");

    Thread filler = new Thread(() -> fill(directTargetMb, fillPerSecondMb), "cache-filler");
    filler.setDaemon(true);
    filler.start();

    // Request garbage, as a busy service makes: short-lived arrays the young collections clear.
    long sink = 0;
    while (true) {
      for (int i = 0; i < 16; i++) sink += touch(new byte[128 << 10]).length;
      Thread.sleep(100);
      if (sink < 0) System.out.println(sink);
    }
  }

  private static void fill(int targetMb, int perSecondMb) {
    long target = (long) targetMb << 20;
    long pause = Math.max(1, 1000 / Math.max(1, perSecondMb));
    try {
      while (directBytes < target) {
        ByteBuffer b;
        try {
          b = ByteBuffer.allocateDirect(1 << 20);
        } catch (OutOfMemoryError full) {
          // -XX:MaxDirectMemorySize reached: the cache stays at the size the JVM allows.
          cacheState = "capped by the JVM at " + (directBytes >> 20) + " MiB";
          return;
        }
        for (int i = 0; i < b.capacity(); i += 4096) b.put(i, (byte) 1);
        directCache.add(b);
        directBytes += b.capacity();
        Thread.sleep(pause);
      }
      cacheState = "full";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static byte[] touch(byte[] a) {
    for (int i = 0; i < a.length; i += 4096) a[i] = 1;
    return a;
  }

  private static String memoryJson() {
    MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
    MemoryUsage nonHeap = ManagementFactory.getMemoryMXBean().getNonHeapMemoryUsage();
    long metaspace = 0;
    long codeCache = 0;
    for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
      if (p.getName().equals("Metaspace")) metaspace = p.getUsage().getUsed();
      if (p.getName().startsWith("CodeHeap") || p.getName().replace(" ", "").equals("CodeCache")) codeCache += p.getUsage().getUsed();
    }
    long direct = 0;
    for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) if (b.getName().equals("direct")) direct = b.getMemoryUsed();
    return "{"
        + "\"heapUsed\":" + heap.getUsed()
        + ",\"heapCommitted\":" + heap.getCommitted()
        + ",\"heapMax\":" + heap.getMax()
        + ",\"nonHeapUsed\":" + nonHeap.getUsed()
        + ",\"metaspaceUsed\":" + metaspace
        + ",\"codeCacheUsed\":" + codeCache
        + ",\"directUsed\":" + direct
        + ",\"threads\":" + ManagementFactory.getThreadMXBean().getThreadCount()
        + ",\"vmRss\":" + vmRssBytes()
        + ",\"cgroupUsage\":" + cgroup("memory.usage_in_bytes", "memory.current")
        + ",\"cgroupLimit\":" + cgroup("memory.limit_in_bytes", "memory.max")
        + ",\"cache\":\"" + cacheState + "\""
        + ",\"uptimeMs\":" + ManagementFactory.getRuntimeMXBean().getUptime()
        + ",\"inputArguments\":\"" + String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments()).replace("\"", "'") + "\""
        + "}\n";
  }

  /** VmRSS of this process from /proc/self/status, in bytes (-1 if unreadable). */
  private static long vmRssBytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
    return -1;
  }

  /** A value of the container's memory cgroup (v1 name, else v2 name), in bytes (-1 if unreadable or unlimited). */
  private static long cgroup(String v1, String v2) {
    for (Path p : new Path[] {Path.of("/sys/fs/cgroup/memory", v1), Path.of("/sys/fs/cgroup", v2)}) {
      try {
        String s = Files.readString(p).trim();
        if (s.equals("max")) return -1;
        return Long.parseLong(s);
      } catch (IOException | NumberFormatException e) {
        // try the next layout
      }
    }
    return -1;
  }

  private static void reply(HttpExchange ex, int code, String body, String type) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(code, b.length);
    try (OutputStream o = ex.getResponseBody()) {
      o.write(b);
    }
  }

  private static int intEnv(String name, int fallback) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? fallback : Integer.parseInt(v.trim());
  }
}
