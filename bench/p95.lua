-- wrk script: the run's 95th-percentile latency, which wrk's --latency does not print.
done = function(summary, latency, requests)
  io.write(string.format("    p95 %.2fms\n", latency:percentile(95) / 1000))
end
