-- WooCommerce orders. *_gmt timestamps carry no offset and are UTC.
with

source as (
    {{ latest_version(source('raw', 'woo__orders')) }}
),

final as (
    select
        _source_id,
        _max_loaded_at,
        cast(_payload ->> 'id' as varchar) as order_id,
        coalesce(_payload ->> 'number', cast(_payload ->> 'id' as varchar)) as order_number,
        _payload ->> 'status' as order_status,
        _payload ->> 'status' = 'cancelled' as is_cancelled,
        upper(_payload ->> 'currency') as currency,
        coalesce(cast(_payload ->> 'prices_include_tax' as boolean), false) as taxes_included,
        {{ local_to_utc_ts("_payload ->> 'date_created_gmt'") }} as ordered_at,
        {{ local_to_utc_ts("_payload ->> 'date_modified_gmt'") }} as updated_at,
        {{ local_to_utc_ts("_payload ->> 'date_paid_gmt'") }} as paid_at,
        coalesce({{ json_money('_payload', '$.discount_total') }}, 0) as discount_total_local,
        coalesce({{ json_money('_payload', '$.shipping_total') }}, 0) as shipping_total_local,
        coalesce({{ json_money('_payload', '$.total_tax') }}, 0) as total_tax_local,
        {{ json_money('_payload', '$.total') }} as total_local,
        nullif(cast(_payload ->> 'customer_id' as varchar), '0') as customer_id,
        {{ normalize_email("_payload ->> '$.billing.email'") }} as email,
        _payload ->> '$.billing.first_name' as first_name,
        _payload ->> '$.billing.last_name' as last_name,
        upper(coalesce(
            nullif(_payload ->> '$.shipping.country', ''), _payload ->> '$.billing.country'
        )) as ship_country
    from source
)

select * from final
