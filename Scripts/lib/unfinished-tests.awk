# Reads `swift test` output (Swift Testing's lines) and prints each test that started and
# neither passed, failed nor was skipped: what a run that did not finish was waiting on.
/◇ Test .* started\.$/ {
    name = $0; sub(/.*◇ Test /, "", name); sub(/ started\.$/, "", name)
    started[name] = NR
}
/[✔✘↷] Test / {
    name = $0; sub(/.*[✔✘↷] Test /, "", name)
    for (candidate in started) if (index(name, candidate " ") == 1) delete started[candidate]
}
END { for (name in started) print "  still running: " name }
