module example.com/fixture/tools

go 1.26
