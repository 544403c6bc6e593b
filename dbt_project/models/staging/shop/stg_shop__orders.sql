with

source as (
    {{ latest_version(source('raw', 'shop__orders')) }}
),

renamed as (
    select
        _source_id,
        _max_loaded_at,
        cast(_payload ->> 'id' as varchar) as order_id,
        _payload ->> 'name' as order_number,
        {{ to_utc_ts("_payload ->> 'created_at'") }} as ordered_at,
        {{ to_utc_ts("_payload ->> 'processed_at'") }} as processed_at,
        {{ to_utc_ts("_payload ->> 'updated_at'") }} as updated_at,
        {{ to_utc_ts("_payload ->> 'cancelled_at'") }} as cancelled_at,
        _payload ->> 'cancel_reason' as cancel_reason,
        upper(_payload ->> 'currency') as currency,
        upper(_payload ->> 'presentment_currency') as presentment_currency,
        _payload ->> 'financial_status' as financial_status,
        _payload ->> 'fulfillment_status' as fulfillment_status,
        coalesce(cast(_payload ->> 'taxes_included' as boolean), false) as taxes_included,
        {{ json_money('_payload', '$.total_line_items_price') }} as total_line_items_price_local,
        {{ json_money('_payload', '$.total_discounts') }} as total_discounts_local,
        {{ json_money('_payload', '$.total_tax') }} as total_tax_local,
        {{ json_money('_payload', '$.total_price') }} as total_price_local,
        {{ json_money('_payload', '$.subtotal_price') }} as subtotal_price_local,
        coalesce(
            {{ json_money('_payload', '$.total_shipping_price_set.shop_money.amount') }},
            list_sum(list_transform(
                {{ json_array('_payload', '$.shipping_lines') }},
                lambda sl: cast(sl ->> 'price' as decimal(18, 4))
            ))
        ) as total_shipping_local,
        {{ normalize_email("coalesce(_payload ->> 'email', _payload ->> '$.customer.email')") }} as email,
        cast(_payload ->> '$.customer.id' as varchar) as customer_id,
        _payload ->> '$.customer.first_name' as customer_first_name,
        _payload ->> '$.customer.last_name' as customer_last_name,
        upper(_payload ->> '$.shipping_address.country_code') as ship_country,
        -- the Shopify location of the first fulfillment, else the location Shopify assigned the
        -- order to before it shipped (resolved to ours in intermediate)
        -- (list functions, not correlated subqueries: those cost a join over every order)
        coalesce(
            list_sort(
                list_transform(
                    {{ json_array('_payload', '$.fulfillments') }},
                    lambda f: {'fulfilled_at': {{ to_utc_ts("f ->> 'created_at'") }}, 'location_id': f ->> 'location_id'}
                ),
                'ASC', 'NULLS LAST'
            )[1].location_id,
            _payload ->> '$.fulfillment_orders[0].assigned_location_id'
        ) as fulfillment_external_location_id,
        _source_updated_at,
        _loaded_at
    from source
),

final as (
    select
        *,
        cancelled_at is not null as is_cancelled
    from renamed
)

select * from final
