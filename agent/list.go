package agent

import (
	"context"
	"io"

	"gocloud.dev/blob"
)

// listPageSize is the page size of every listing. gocloud's iterator asks
// for pages of 1,000, and fileblob (the data: and localstorage: remotes)
// walks the whole directory tree again for every page, so a listing of N
// files costs O(N²/1000) there: 10,000 tables took tens of minutes to list.
// Bigger pages make that a few walks; object stores cap a page themselves
// (S3: 1,000 keys) and just return smaller pages. A page is held in memory:
// 10,000 entries are a few MiB.
const listPageSize = 10000

// lister lists a bucket like blob.ListIterator, in pages of listPageSize.
type lister struct {
	b     *blob.Bucket
	opts  *blob.ListOptions
	page  []*blob.ListObject
	token []byte
}

func list(b *blob.Bucket, opts *blob.ListOptions) *lister {
	return &lister{b: b, opts: opts, token: blob.FirstPageToken}
}

// Next returns the next object, or io.EOF after the last.
func (l *lister) Next(ctx context.Context) (*blob.ListObject, error) {
	for len(l.page) == 0 {
		if len(l.token) == 0 {
			return nil, io.EOF
		}
		page, next, err := l.b.ListPage(ctx, l.token, listPageSize, l.opts)
		if err != nil {
			return nil, err
		}
		l.page, l.token = page, next
	}
	o := l.page[0]
	l.page[0] = nil
	l.page = l.page[1:]
	return o, nil
}
