# A Ruby platform (Primero is Rails) calling the mandate-rules sidecar with the standard
# library only. Run:  MANDATE_RULES_URL=http://127.0.0.1:8765 ruby primero_sidecar.rb
#
# The sidecar advises; it never blocks: if it cannot be reached, save the record anyway
# and send the event again later. A retry carries the same `id`, so nothing is counted twice.
require "json"
require "net/http"
require "time"
require "uri"

class MandateRulesSidecar
  Retry = Class.new(StandardError)

  def initialize(base_url, token = nil)
    @base = URI(base_url)
    @token = token
  end

  # The advisories this event raised (or raised when it was first sent).
  def submit(event, attempts: 3)
    response = post("/v1/events", event, "application/cloudevents+json")
    case response
    when Net::HTTPOK then JSON.parse(response.body).fetch("advisories")
    when Net::HTTPServiceUnavailable then raise Retry, response["Retry-After"] || "1"
    else
      error = JSON.parse(response.body).fetch("error")
      # A stable code, and the field at fault, e.g. invalid-event at data.armed.
      raise ArgumentError, "#{error['code']} at #{error['path']}: #{error['message']}"
    end
  rescue Retry, Errno::ECONNREFUSED, Net::OpenTimeout, Net::ReadTimeout => e
    attempts -= 1
    raise if attempts.zero?
    sleep(e.is_a?(Retry) ? e.message.to_f : 1)
    retry
  end

  def record_decision(advisory_id, decision:, by:, text: nil)
    body = { decision: decision, by: by, text: text }.compact
    response = post("/v1/advisories/#{advisory_id}/resolution", body, "application/json")
    raise "resolution refused: #{response.body}" unless response.is_a?(Net::HTTPCreated)

    JSON.parse(response.body)
  end

  private

  def post(path, body, content_type)
    request = Net::HTTP::Post.new(path, "Content-Type" => content_type)
    request["Authorization"] = "Bearer #{@token}" if @token
    request.body = JSON.generate(body)
    Net::HTTP.start(@base.host, @base.port, use_ssl: @base.scheme == "https",
                                            open_timeout: 5, read_timeout: 30) do |http|
      http.request(request)
    end
  end
end

# A Primero case saved with an armed escort request becomes one CloudEvent.
def escort_event(record)
  {
    specversion: "1.0",
    id: "#{record[:id]}-v#{record[:version]}", # the same record version: the same id
    source: "primero://primero.example.org/cases",
    type: "escort.request",
    time: record[:updated_at].utc.iso8601,
    subject: record[:id],
    country: "SOM",
    area: record[:admin_area],
    data: {
      org: { id: "ingo-horn-relief", kind: "ingo" },
      entity_id: record[:id],
      armed: record[:armed_escort],
      provider: { kind: "mission_military" },
      alternatives_considered: [],
      decision: { status: "requested" }
    }
  }
end

if $PROGRAM_NAME == __FILE__
  sidecar = MandateRulesSidecar.new(ENV.fetch("MANDATE_RULES_URL", "http://127.0.0.1:8765"),
                                    ENV["MANDATE_RULES_TOKEN"])
  record = { id: "esc-hr-0001", version: 1, updated_at: Time.now, admin_area: "SO-BN",
             armed_escort: true }
  sidecar.submit(escort_event(record)).each do |advisory|
    puts "#{advisory['severity'].upcase} #{advisory['rule_id']}: #{advisory['title']}"
    puts "  #{advisory['advice'].strip}"
    advisory["actions"].each { |action| puts "  - #{action}" }
  end
end
