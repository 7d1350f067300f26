module kubefactory.local/pause

go 1.19
