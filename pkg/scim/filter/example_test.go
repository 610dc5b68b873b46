package filter_test

import (
	"encoding/json"
	"fmt"

	"github.com/scimless/scimless/pkg/scim/filter"
	"github.com/scimless/scimless/pkg/scim/schema"
)

func ExampleParse() {
	var user map[string]any
	_ = json.Unmarshal([]byte(`{
		"id": "2819c223",
		"userName": "bjensen@example.com",
		"emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}]
	}`), &user)

	f, err := filter.Parse(schema.UserResourceType(), `EMAILS[type eq "work"].value eq "BJensen@example.com"`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f)
	fmt.Println(f.Match(user))
	fmt.Println(f.IndexEquality())

	_, err = filter.Parse(schema.UserResourceType(), `someuppercaseusername`)
	fmt.Println(err)
	// Output:
	// emails[type eq "work" and value eq "BJensen@example.com"]
	// true
	// {emails.value BJensen@example.com} true
	// scim 400 invalidFilter: filter: syntax error at position 22: expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after "someuppercaseusername", found end of filter
}
