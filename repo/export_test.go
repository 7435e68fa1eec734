package repo

// SetIndexEvery makes r write an index every n packs stored.
func SetIndexEvery(r *Repo, n int) { r.packs.indexEvery = n }
