module ctflow/tools/ctnetlink

go 1.22
