module parkway/bench/proxy

go 1.19
