with

source as (
    {{ latest_version(source('raw', 'amazon__orders')) }}
),

final as (
    select
        _source_id,
        _max_loaded_at,
        _payload ->> 'AmazonOrderId' as order_id,
        {{ to_utc_ts("_payload ->> 'PurchaseDate'") }} as ordered_at,
        {{ to_utc_ts("_payload ->> 'LastUpdateDate'") }} as updated_at,
        _payload ->> 'OrderStatus' as order_status,
        _payload ->> 'OrderStatus' = 'Canceled' as is_cancelled,
        _payload ->> 'FulfillmentChannel' as fulfillment_channel,
        _payload ->> 'SalesChannel' as sales_channel,
        _payload ->> 'MarketplaceId' as marketplace_id,
        upper(coalesce(
            _payload ->> '$.OrderTotal.CurrencyCode',
            case _payload ->> 'MarketplaceId'
                when 'A1PA6795UKMFR9' then 'EUR'
                when 'A1F83G8C2ARO7P' then 'GBP'
            end
        )) as currency,
        {{ json_money('_payload', '$.OrderTotal.Amount') }} as order_total_local,
        {{ json_int('_payload', '$.NumberOfItemsShipped') }} as items_shipped,
        {{ json_int('_payload', '$.NumberOfItemsUnshipped') }} as items_unshipped,
        {{ normalize_email("_payload ->> '$.BuyerInfo.BuyerEmail'") }} as email,
        upper(_payload ->> '$.ShippingAddress.CountryCode') as ship_country
    from source
)

select * from final
