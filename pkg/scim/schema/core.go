package schema

// The core schemas of RFC 7643 §4 and §8.7.1, as scimless implements them.
// Each call builds fresh values, so callers may extend them per tenant.

func str(name, desc string) *Attribute {
	return &Attribute{Name: name, Type: String, Description: desc, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: UniqueNone}
}

func boolean(name, desc string) *Attribute {
	return &Attribute{Name: name, Type: Boolean, Description: desc, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: UniqueNone}
}

func ref(name, desc string, types ...string) *Attribute {
	return &Attribute{Name: name, Type: Reference, ReferenceTypes: types, Description: desc, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: UniqueNone}
}

func complexAttr(name, desc string, multi bool, subs ...*Attribute) *Attribute {
	return &Attribute{Name: name, Type: Complex, MultiValued: multi, Description: desc, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: UniqueNone, SubAttributes: subs}
}

// multi builds a multi-valued complex attribute with the usual value, display,
// type and primary sub-attributes (RFC 7643 §2.4).
func multi(name, desc string, valueType Type, types ...string) *Attribute {
	value := str("value", "The value of the "+name+" entry.")
	value.Type = valueType
	if valueType == Reference {
		value.ReferenceTypes = []string{"external"}
	}
	typ := str("type", "A label indicating the attribute's function.")
	typ.CanonicalValues = types
	return complexAttr(name, desc, true,
		value,
		str("display", "A human-readable name, primarily used for display purposes."),
		typ,
		boolean("primary", "Indicates the primary value; at most one value may be primary."),
	)
}

func readOnly(a *Attribute) *Attribute {
	a.Mutability = ReadOnly
	for _, s := range a.SubAttributes {
		s.Mutability = ReadOnly
	}
	return a
}

// User returns the core User schema (RFC 7643 §4.1).
func User() *Schema {
	userName := str("userName", "Unique identifier for the User, typically used by the user to directly authenticate to the service provider.")
	userName.Required, userName.Uniqueness = true, UniqueServer
	password := str("password", "The User's cleartext password; never returned.")
	password.Mutability, password.Returned = WriteOnly, ReturnedNever
	emails := multi("emails", "Email addresses for the user.", String, "work", "home", "other")
	phones := multi("phoneNumbers", "Phone numbers for the User.", String, "work", "home", "mobile", "fax", "pager", "other")
	ims := multi("ims", "Instant messaging addresses for the User.", String, "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo")
	photos := multi("photos", "URLs of photos of the User.", Reference, "photo", "thumbnail")
	addrType := str("type", "A label indicating the attribute's function.")
	addrType.CanonicalValues = []string{"work", "home", "other"}
	addresses := complexAttr("addresses", "A physical mailing address for this User.", true,
		str("formatted", "The full mailing address, formatted for display."),
		str("streetAddress", "The full street address component."),
		str("locality", "The city or locality component."),
		str("region", "The state or region component."),
		str("postalCode", "The zip code or postal code component."),
		str("country", "The country name component."),
		addrType,
		boolean("primary", "Indicates the primary mailing address."),
	)
	groupRef := ref("$ref", "The URI of the corresponding Group resource.", "Group")
	groupType := str("type", "How the group membership was derived.")
	groupType.CanonicalValues = []string{"direct", "indirect"}
	groups := readOnly(complexAttr("groups", "A list of groups to which the user belongs.", true,
		str("value", "The identifier of the User's group."), groupRef, str("display", "A human-readable name of the group."), groupType))
	entitlements := multi("entitlements", "A list of entitlements for the User.", String)
	roles := multi("roles", "A list of roles for the User.", String)
	certs := multi("x509Certificates", "A list of certificates issued to the User.", Binary)
	return &Schema{
		ID:          UserURN,
		Name:        "User",
		Description: "User Account",
		Attributes: []*Attribute{
			userName,
			complexAttr("name", "The components of the user's real name.", false,
				str("formatted", "The full name, formatted for display."),
				str("familyName", "The family name of the User."),
				str("givenName", "The given name of the User."),
				str("middleName", "The middle name(s) of the User."),
				str("honorificPrefix", "The honorific prefix(es) of the User."),
				str("honorificSuffix", "The honorific suffix(es) of the User."),
			),
			str("displayName", "The name of the User, suitable for display to end-users."),
			str("nickName", "The casual way to address the user in real life."),
			ref("profileUrl", "A fully qualified URL pointing to a page representing the User's online profile.", "external"),
			str("title", "The user's title, such as \"Vice President\"."),
			str("userType", "Used to identify the relationship between the organization and the user."),
			str("preferredLanguage", "The User's preferred written or spoken language."),
			str("locale", "The User's default location for localizing items."),
			str("timezone", "The User's time zone in the Olson time zone database format."),
			boolean("active", "The User's administrative status."),
			password,
			emails, phones, ims, photos, addresses, groups, entitlements, roles, certs,
		},
	}
}

// EnterpriseUser returns the enterprise User extension (RFC 7643 §4.3).
func EnterpriseUser() *Schema {
	manager := complexAttr("manager", "The User's manager.", false,
		str("value", "The id of the SCIM resource representing the User's manager."),
		ref("$ref", "The URI of the SCIM resource representing the User's manager.", "User"),
		readOnly(str("displayName", "The displayName of the User's manager.")),
	)
	return &Schema{
		ID:          EnterpriseUserURN,
		Name:        "EnterpriseUser",
		Description: "Enterprise User",
		Attributes: []*Attribute{
			str("employeeNumber", "Numeric or alphanumeric identifier assigned to a person."),
			str("costCenter", "Identifies the name of a cost center."),
			str("organization", "Identifies the name of an organization."),
			str("division", "Identifies the name of a division."),
			str("department", "Identifies the name of a department."),
			manager,
		},
	}
}

// Group returns the core Group schema (RFC 7643 §4.2). scimless enforces a
// unique displayName per tenant (case-insensitive), as Entra ID expects.
func Group() *Schema {
	displayName := str("displayName", "A human-readable name for the Group.")
	displayName.Required, displayName.Uniqueness = true, UniqueServer
	memberValue := str("value", "Identifier of the member of this Group.")
	memberValue.Mutability = Immutable
	memberRef := ref("$ref", "The URI of the member resource.", "User", "Group")
	memberRef.Mutability = Immutable
	memberType := str("type", "The type of the member.")
	memberType.CanonicalValues = []string{"User", "Group"}
	memberType.Mutability = Immutable
	display := str("display", "A human-readable name of the member.")
	display.Mutability = ReadOnly
	return &Schema{
		ID:          GroupURN,
		Name:        "Group",
		Description: "Group",
		Attributes: []*Attribute{
			displayName,
			complexAttr("members", "A list of members of the Group.", true, memberValue, memberRef, memberType, display),
		},
	}
}

// UserResourceType returns the User resource type with the enterprise
// extension and any further extensions given.
func UserResourceType(extra ...Extension) *ResourceType {
	return &ResourceType{
		ID: "User", Name: "User", Endpoint: "/Users", Description: "User Account",
		Schema:     User(),
		Extensions: append([]Extension{{Schema: EnterpriseUser()}}, extra...),
		common:     Common(),
	}
}

// GroupResourceType returns the Group resource type with any extensions given.
func GroupResourceType(extra ...Extension) *ResourceType {
	return &ResourceType{
		ID: "Group", Name: "Group", Endpoint: "/Groups", Description: "Group",
		Schema: Group(), Extensions: extra, common: Common(),
	}
}
