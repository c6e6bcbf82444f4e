module parkway/bench/runtime

go 1.19
