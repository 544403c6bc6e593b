-- Till receipt lines. ordered_at is local time (no offset) in the payload's `timezone`.
-- Negative quantity = a return; cancelled ('Void' = 1) = a voided (cancelled) line.
with

source as (
    {{ latest_version(source('raw', 'tills__orders')) }}
),

renamed as (
    select
        _source_id,
        _max_loaded_at,
        _source_id as order_line_source_id,
        _payload ->> 'order_id' as order_id,
        _payload ->> 'line_id' as line_id,
        {{ local_to_utc_ts("_payload ->> 'ordered_at'", "coalesce(nullif(_payload ->> 'timezone', ''), '" ~ var('business_timezone') ~ "')") }} as ordered_at,
        nullif(trim(_payload ->> 'location_id'), '') as location_id,
        nullif(trim(_payload ->> 'sku'), '') as sku,
        cast(cast(nullif(trim(_payload ->> 'quantity'), '') as decimal(18, 4)) as integer) as signed_quantity,
        coalesce({{ json_money('_payload', '$.unit_price') }}, 0) as unit_price_local,
        coalesce({{ json_money('_payload', '$.discount') }}, 0) as discount_local,
        upper(nullif(trim(_payload ->> 'currency'), '')) as currency,
        {{ normalize_email("_payload ->> 'customer_email'") }} as email,
        coalesce(trim(_payload ->> 'cancelled'), '') in ('1', 'true', 'True', 'TRUE', 'Y', 'y', 'yes')
            as is_cancelled,
        _payload ->> 'source_file' as source_file
    from source
),

final as (
    select
        _source_id,
        _max_loaded_at,
        order_line_source_id,
        order_id,
        line_id,
        ordered_at,
        location_id,
        sku,
        signed_quantity,
        signed_quantity < 0 as is_return,
        abs(signed_quantity) as quantity,
        unit_price_local,
        cast(abs(signed_quantity) * unit_price_local as decimal(18, 4)) as gross_local,
        abs(discount_local) as discount_local,
        cast(abs(signed_quantity) * unit_price_local - abs(discount_local) as decimal(18, 4)) as net_local,
        currency,
        email,
        is_cancelled,
        source_file
    from renamed
)

select * from final
