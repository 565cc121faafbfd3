package coap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// decodeJSON decodes a readings body in JSON (RFC 8259) to the same tree
// as decodeCBOR, with the same bounds. Duplicate keys and anything after
// the value are refused.
func decodeJSON(b []byte) (item, error) {
	if len(b) > MaxBodySize {
		return item{}, fmt.Errorf("%w: %d bytes; at most %d", ErrMalformed, len(b), MaxBodySize)
	}
	d := jsonDecoder{dec: json.NewDecoder(bytes.NewReader(b))}
	d.dec.UseNumber()
	tok, err := d.token()
	if err != nil {
		return item{}, err
	}
	it, err := d.value(tok, 0)
	if err != nil {
		return item{}, err
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return item{}, fmt.Errorf("%w: json: text after the value", ErrMalformed)
	}
	return it, nil
}

type jsonDecoder struct {
	dec   *json.Decoder
	items int
}

func (d *jsonDecoder) token() (json.Token, error) {
	tok, err := d.dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: json: %v", ErrMalformed, err)
	}
	return tok, nil
}

func (d *jsonDecoder) value(tok json.Token, depth int) (item, error) {
	if depth > MaxDepth {
		return item{}, fmt.Errorf("%w: json: nested deeper than %d", ErrMalformed, MaxDepth)
	}
	if d.items++; d.items > MaxItems {
		return item{}, fmt.Errorf("%w: json: more than %d values", ErrMalformed, MaxItems)
	}
	switch t := tok.(type) {
	case nil:
		return item{kind: kindNull}, nil
	case bool:
		return item{kind: kindBool, b: t}, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return item{}, fmt.Errorf("%w: json: number %s is out of range", ErrMalformed, truncate(string(t)))
		}
		return item{kind: kindNumber, num: f}, nil
	case string:
		return item{kind: kindText, text: t}, nil
	case json.Delim:
		switch t {
		case '[':
			it := item{kind: kindArray}
			for d.dec.More() {
				tok, err := d.token()
				if err != nil {
					return item{}, err
				}
				e, err := d.value(tok, depth+1)
				if err != nil {
					return item{}, err
				}
				it.elems = append(it.elems, e)
			}
			_, err := d.token() // ']'
			return it, err
		case '{':
			it := item{kind: kindMap}
			for d.dec.More() {
				tok, err := d.token()
				if err != nil {
					return item{}, err
				}
				k, _ := tok.(string) // the decoder gives only strings here
				if slices.Contains(it.keys, k) {
					return item{}, fmt.Errorf("%w: json: key %q given twice", ErrMalformed, truncate(k))
				}
				if d.items++; d.items > MaxItems {
					return item{}, fmt.Errorf("%w: json: more than %d values", ErrMalformed, MaxItems)
				}
				tok, err = d.token()
				if err != nil {
					return item{}, err
				}
				v, err := d.value(tok, depth+1)
				if err != nil {
					return item{}, err
				}
				it.keys, it.elems = append(it.keys, k), append(it.elems, v)
			}
			_, err := d.token() // '}'
			return it, err
		}
	}
	return item{}, fmt.Errorf("%w: json: unexpected %v", ErrMalformed, tok)
}
