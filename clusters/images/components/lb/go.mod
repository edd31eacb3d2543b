module aftershock.local/lb

go 1.22
