// pgJDBC (Debian's libpostgresql-jdbc-java) through a patroxy listener with tls: terminate,
// client_tls require and server_tls verify-full, as a Java application would use it: sslmode
// require and verify-full, parameterized queries (server-side prepared statements after
// prepareThreshold, a cursor fetch in portions, a batch), Statement.cancel() of a running query
// from another thread, then a kill through the stats listener read as SQLState 57P01 on the
// next use of the idle connection. Run by jdbc_test.sh with the environment of lib.sh; prints
// one line per check and exits 1 at the first failure.
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Base64;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

public final class JdbcDriverTest {
    private static final String PORT = env("LISTENER_PORT");
    private static final String STATS_PORT = env("STATS_PORT");
    private static final long START = System.nanoTime();

    private static String env(String name) {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) throw new IllegalStateException("missing environment variable " + name);
        return value;
    }

    private static void ok(String what) {
        System.out.printf("[%6.3f s] ok   %s%n", (System.nanoTime() - START) / 1e9, what);
    }

    private static void check(boolean condition, String what) {
        if (!condition) throw new AssertionError(what);
        ok(what);
    }

    private static Connection connect(String query) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", env("DRIVER_USER"));
        p.setProperty("password", env("DRIVER_PASSWORD"));
        p.setProperty("connectTimeout", "10");
        p.setProperty("ApplicationName", "patroxy drivers.jdbc");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + PORT + "/postgres?" + query, p);
    }

    private static String value(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(sql)) {
            if (!r.next()) throw new AssertionError("no row from " + sql);
            return r.getString(1);
        }
    }

    public static void main(String[] args) throws Exception {
        System.out.println("pgJDBC " + org.postgresql.util.DriverInfo.DRIVER_FULL_NAME + " on Java "
                + System.getProperty("java.version"));
        try {
            run();
        } catch (Throwable t) {
            System.out.printf("[%6.3f s] FAIL %s%n", (System.nanoTime() - START) / 1e9, t);
            t.printStackTrace(System.out);
            System.exit(1);
        }
        System.out.println("drivers.jdbc: all checks passed");
    }

    private static void run() throws Exception {
        // sslmode=require: encrypted, no verification. The listener refuses plaintext (client_tls
        // require), so a session at all is a TLS session; PostgreSQL takes only hostssl + SCRAM,
        // so the server leg is patroxy's verify-full TLS and the password went through.
        try (Connection c = connect("sslmode=require")) {
            check("1".equals(value(c, "SELECT 1")), "sslmode=require: connected through the terminating listener (SCRAM user)");
            check("t".equals(value(c, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")),
                    "the server leg is TLS too (pg_stat_ssl)");
        }
        // sslmode=verify-full against the test CA: patroxy's certificate names 127.0.0.1.
        try (Connection c = connect("sslmode=verify-full&sslrootcert=" + env("CA_CERT"))) {
            check("verified".equals(value(c, "SELECT 'verified'")), "sslmode=verify-full with the test CA as sslrootcert");
        }
        try {
            connect("sslmode=verify-full&sslrootcert=" + env("OTHER_CA_CERT")).close();
            throw new AssertionError("verify-full against a CA that signed nothing connected");
        } catch (SQLException e) {
            check("08006".equals(e.getSQLState()) && String.valueOf(e.getMessage()).contains("SSL"),
                    "verify-full against another CA is refused (" + e.getSQLState() + ": " + e.getMessage() + ")");
        }

        try (Connection c = connect("sslmode=verify-full&sslrootcert=" + env("CA_CERT"))) {
            queries(c);
            cancel(c);
            kill(c);
        }
    }

    private static void queries(Connection c) throws SQLException {
        try (PreparedStatement p = c.prepareStatement("SELECT ?::int + ?::int, ?::text || '!'")) {
            p.setInt(1, 40);
            p.setInt(2, 2);
            p.setString(3, "über");
            try (ResultSet r = p.executeQuery()) {
                check(r.next() && r.getInt(1) == 42 && "über!".equals(r.getString(2)), "parameters bound: 40 + 2, 'über' || '!'");
            }
        }
        // Six runs: from the fifth on (prepareThreshold) pgJDBC uses a named server-side statement.
        final int rows = 5000;
        try (PreparedStatement p = c.prepareStatement("SELECT g, md5(g::text) FROM generate_series(1, ?) AS g")) {
            for (int run = 1; run <= 6; ++run) {
                p.setInt(1, rows);
                long sum = 0;
                int n = 0;
                try (ResultSet r = p.executeQuery()) {
                    while (r.next()) {
                        sum += r.getInt(1);
                        if (r.getString(2).length() != 32) throw new AssertionError("md5 of row " + r.getInt(1));
                        ++n;
                    }
                }
                if (n != rows || sum != (long) rows * (rows + 1) / 2)
                    throw new AssertionError("run " + run + ": " + n + " rows, sum " + sum);
            }
            ok("6 runs of a 5000-row parameterized SELECT, the last ones as a server-side prepared statement");
        }
        // A cursor: portions of 700 rows (Execute with a row limit, PortalSuspended) in a transaction.
        c.setAutoCommit(false);
        try (PreparedStatement p = c.prepareStatement("SELECT repeat('x', 100) FROM generate_series(1, ?)")) {
            p.setFetchSize(700);
            p.setInt(1, 3000);
            int n = 0;
            try (ResultSet r = p.executeQuery()) {
                while (r.next()) n += r.getString(1).length() == 100 ? 1 : 0;
            }
            check(n == 3000, "3000 rows fetched 700 at a time through a portal");
        }
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TEMP TABLE driver_rows (id int PRIMARY KEY, label text)");
        }
        try (PreparedStatement p = c.prepareStatement("INSERT INTO driver_rows VALUES (?, ?)")) {
            for (int i = 1; i <= 2000; ++i) {
                p.setInt(1, i);
                p.setString(2, "row " + i);
                p.addBatch();
            }
            p.executeBatch();
        }
        c.commit();
        c.setAutoCommit(true);
        check("2000 2001000".equals(value(c, "SELECT count(*) || ' ' || sum(id) FROM driver_rows")),
                "a batch of 2000 INSERTs committed");
        check(value(c, "SELECT repeat('y', 2000000)").length() == 2_000_000, "a 2 MB value");
    }

    /// Statement.cancel() from another thread: pgJDBC sends a CancelRequest on a new connection
    /// with the key patroxy handed out; the query ends with 57014 and the connection goes on.
    private static void cancel(Connection c) throws Exception {
        try (Statement s = c.createStatement()) {
            CompletableFuture<SQLException> outcome = CompletableFuture.supplyAsync(() -> {
                try {
                    s.executeQuery("SELECT pg_sleep(30)");
                    return null;
                } catch (SQLException e) {
                    return e;
                }
            });
            waitRunning("SELECT pg_sleep(30)");
            long sent = System.nanoTime();
            s.cancel();
            SQLException e = outcome.get(2, TimeUnit.SECONDS);
            double took = (System.nanoTime() - sent) / 1e9;
            check(e != null && "57014".equals(e.getSQLState()),
                    String.format("Statement.cancel() of pg_sleep(30): SQLState %s after %.3f s (%s)",
                            e == null ? "none" : e.getSQLState(), took, e == null ? "" : e.getMessage()));
        }
        check("2".equals(value(c, "SELECT 1 + 1")), "the connection goes on after the cancel");
        check(stats("GET", "/metrics", null).body().contains("patroxy_cancel_requests_total{result=\"forwarded\"} 1"),
                "patroxy forwarded the cancel by its key (/metrics: forwarded 1)");
    }

    /// Waits (at most 5 s) until `sql` runs on the server, seen from a second session.
    private static void waitRunning(String sql) throws Exception {
        try (Connection watcher = connect("sslmode=require");
             PreparedStatement p = watcher.prepareStatement(
                     "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = ?")) {
            p.setString(1, sql);
            for (long deadline = System.nanoTime() + 5_000_000_000L; System.nanoTime() < deadline; Thread.sleep(20)) {
                try (ResultSet r = p.executeQuery()) {
                    if (r.next() && r.getInt(1) == 1) return;
                }
            }
        }
        throw new AssertionError(sql + " is not running after 5 s");
    }

    /// Waits (at most 5 s) until /metrics shows `line`.
    private static void waitMetric(String line) throws Exception {
        for (long deadline = System.nanoTime() + 5_000_000_000L; System.nanoTime() < deadline; Thread.sleep(20))
            if (stats("GET", "/metrics", null).body().contains(line)) return;
        throw new AssertionError("/metrics does not show " + line + " after 5 s");
    }

    /// A request to the stats listener with its basic auth; redirects are not followed.
    private static HttpResponse<String> stats(String method, String path, String form) throws Exception {
        String auth = Base64.getEncoder().encodeToString(("admin:" + env("STATS_PASSWORD")).getBytes(StandardCharsets.UTF_8));
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + STATS_PORT + path))
                .header("Authorization", "Basic " + auth)
                .timeout(Duration.ofSeconds(5));
        if (form != null)
            request.header("Content-Type", "application/x-www-form-urlencoded")
                    .method(method, HttpRequest.BodyPublishers.ofString(form));
        else
            request.method(method, HttpRequest.BodyPublishers.noBody());
        return HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
                .send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /// The stats listener marks pg1 maint on the listener: patroxy ends the idle session with
    /// FATAL 57P01 at a message boundary, which pgJDBC reports at the next use.
    private static void kill(Connection c) throws Exception {
        HttpResponse<String> reply = stats("POST", "/admin", "listener=tls&member=pg1&state=maint");
        check(reply.statusCode() == 303, "POST /admin listener=tls member=pg1 state=maint: " + reply.statusCode());
        // The kill reaches the session on patroxy's event loop: 57P01, then the close.
        waitMetric("patroxy_listener_sessions_current{listener=\"tls\"} 0");
        try {
            value(c, "SELECT 1");
            throw new AssertionError("the connection still answered after the kill");
        } catch (SQLException e) {
            StringBuilder chain = new StringBuilder();
            for (SQLException x = e; x != null; x = x.getNextException())
                chain.append(chain.length() == 0 ? "" : " / then ").append(x.getSQLState()).append(": ").append(x.getMessage());
            check("57P01".equals(e.getSQLState()) && String.valueOf(e.getMessage()).contains("pg1"),
                    "the next use of the idle connection raises SQLState " + chain);
        }
        check(c.isClosed(), "pgJDBC marks the connection closed");
    }
}
