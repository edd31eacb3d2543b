module aftershock.local/app

go 1.22
