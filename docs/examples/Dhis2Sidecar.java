// A Java platform (DHIS2 is Java) calling the mandate-rules sidecar with java.net.http only
// (Java 11 or later). Run:  java Dhis2Sidecar.java   (MANDATE_RULES_URL, MANDATE_RULES_TOKEN)
//
// The sidecar advises; it never blocks. If it cannot be reached, keep the record and send
// the event again later: a retry carries the same id, and the sidecar stores it only once.
// In DHIS2 itself, read the JSON answer with Jackson (already on its class path); this file
// prints it as it comes so that it needs nothing but the JDK.

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

public final class Dhis2Sidecar {
    private final HttpClient http = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final String base;
    private final String token;

    Dhis2Sidecar(String base, String token) {
        this.base = base;
        this.token = token;
    }

    /** Posts one CloudEvent; returns the JSON answer with the advisories it raised. */
    String submit(String cloudEvent) throws IOException, InterruptedException {
        return post(cloudEvent, "application/cloudevents+json");
    }

    /** Posts a JSON array of CloudEvents, stored all or nothing; the answer's "results" hold
     *  each event's advisories, in order. */
    String submitBatch(String cloudEvents) throws IOException, InterruptedException {
        return post(cloudEvents, "application/cloudevents-batch+json");
    }

    private String post(String body, String contentType) throws IOException, InterruptedException {
        for (int attempt = 1; ; attempt++) {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + "/v1/events"))
                    .timeout(Duration.ofSeconds(30))
                    .header("Content-Type", contentType)
                    .POST(HttpRequest.BodyPublishers.ofString(body));
            if (token != null) {
                request.header("Authorization", "Bearer " + token);
            }
            try {
                HttpResponse<String> response =
                        http.send(request.build(), HttpResponse.BodyHandlers.ofString());
                int status = response.statusCode();
                if (status == 200) {
                    return response.body();
                }
                if (status != 503 || attempt == 3) {
                    // 4xx: {"error": {"code": "invalid-event", "path": "data.armed", ...}}
                    throw new IllegalArgumentException(status + " " + response.body());
                }
                long wait = response.headers().firstValueAsLong("Retry-After").orElse(1);
                Thread.sleep(wait * 1000);
            } catch (IOException unreachable) {
                if (attempt == 3) {
                    throw unreachable;
                }
                Thread.sleep(1000);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Dhis2Sidecar sidecar = new Dhis2Sidecar(
                System.getenv().getOrDefault("MANDATE_RULES_URL", "http://127.0.0.1:8765"),
                System.getenv("MANDATE_RULES_TOKEN"));
        // A DHIS2 tracker event for a request of a seat on a mission helicopter.
        String event = EVENT.formatted("Q8kz1-v1", "Q8kz1",
                Instant.now().truncatedTo(ChronoUnit.SECONDS), "Q8kz1");
        System.out.println(sidecar.submit(event));
        // Two more, sent together as a batch (one answer line, its "results" in order).
        String batch = "[" + EVENT.formatted("R2mw7-v1", "R2mw7",
                Instant.now().truncatedTo(ChronoUnit.SECONDS), "R2mw7") + ","
                + EVENT.formatted("T5hq3-v1", "T5hq3",
                Instant.now().truncatedTo(ChronoUnit.SECONDS), "T5hq3") + "]";
        System.out.println(sidecar.submitBatch(batch));
    }

    private static final String EVENT = """
            {"specversion": "1.0", "id": "dhis2-evt-%s", "type": "asset.request",
             "source": "dhis2://dhis2.example.org/programs/aSsEtReQ",
             "subject": "%s", "time": "%s", "country": "SOM", "area": "SO-SA",
             "data": {"org": {"id": "nngo-sanaag-water", "kind": "nngo"},
                      "entity_id": "%s", "asset": {"kind": "helicopter",
                      "owner_kind": "mission_military"}, "task_category": "indirect",
                      "medevac": false, "route": {"id": "CRG-HLD"},
                      "needed_within_h": 72}}
            """;
}
