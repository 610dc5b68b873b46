package events

import (
	"fmt"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ImageFromSDK converts an item as the DynamoDB SDK returns it (GetItem)
// into the stream-record image that a Lambda receives, so records built
// in-process feed Derive like Lambda's do. (The DynamoDB Streams SDK has
// its own attribute value types; package stream converts those.)
func ImageFromSDK(item map[string]types.AttributeValue) (Image, error) {
	if item == nil {
		return nil, nil
	}
	out := make(Image, len(item))
	for k, v := range item {
		av, err := attrFromSDK(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func attrFromSDK(v types.AttributeValue) (lambdaevents.DynamoDBAttributeValue, error) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return lambdaevents.NewStringAttribute(v.Value), nil
	case *types.AttributeValueMemberN:
		return lambdaevents.NewNumberAttribute(v.Value), nil
	case *types.AttributeValueMemberB:
		return lambdaevents.NewBinaryAttribute(v.Value), nil
	case *types.AttributeValueMemberBOOL:
		return lambdaevents.NewBooleanAttribute(v.Value), nil
	case *types.AttributeValueMemberNULL:
		return lambdaevents.NewNullAttribute(), nil
	case *types.AttributeValueMemberSS:
		return lambdaevents.NewStringSetAttribute(v.Value), nil
	case *types.AttributeValueMemberNS:
		return lambdaevents.NewNumberSetAttribute(v.Value), nil
	case *types.AttributeValueMemberBS:
		return lambdaevents.NewBinarySetAttribute(v.Value), nil
	case *types.AttributeValueMemberL:
		list := make([]lambdaevents.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			av, err := attrFromSDK(e)
			if err != nil {
				return av, err
			}
			list[i] = av
		}
		return lambdaevents.NewListAttribute(list), nil
	case *types.AttributeValueMemberM:
		m, err := ImageFromSDK(v.Value)
		if err != nil {
			return lambdaevents.DynamoDBAttributeValue{}, err
		}
		return lambdaevents.NewMapAttribute(m), nil
	}
	return lambdaevents.DynamoDBAttributeValue{}, fmt.Errorf("unsupported attribute value %T", v)
}
