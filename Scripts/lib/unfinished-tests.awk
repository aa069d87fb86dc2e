# Reads a Swift Testing event stream (JSON lines, `swift test --event-stream-output-path F
# --event-stream-version 0`) and prints each test function that started and did not end:
# what a run that did not finish was waiting on. (The console output, buffered when it goes to
# a pipe, may hold nothing of a run that was killed; the event stream is written as it goes.)
/"kind":"test(Started|Ended)"/ {
    if (!match($0, /"testID":"[^"]*"/)) next
    id = substr($0, RSTART + 10, RLENGTH - 11)
    gsub(/\\\//, "/", id)
    if (id !~ /\(/) next
    if ($0 ~ /"kind":"testStarted"/) started[id] = 1; else delete started[id]
}
END { for (id in started) print "  still running: " id }
