-- Till / order export lines. ordered_at is local time (no offset) in the payload's `timezone`.
-- Negative quantity = a return; cancelled ('Void' = 1) = a voided (cancelled) line.
-- line_type and document_type come from the export's rules (connectors/till_export/mapping.py;
-- rows landed before they existed are product lines of sales). A stock write-off is a product
-- line taken out of stock without a customer and without money: negative quantity, price 0, no
-- customer id or e-mail ("damaged", "thrown away"): an inventory adjustment, never a sale or a
-- return.
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
        nullif(trim(_payload ->> 'customer_id'), '') as customer_id,
        nullif(trim(_payload ->> 'customer_name'), '') as customer_name,
        {{ country_code("_payload ->> 'country'") }} as country,
        nullif(trim(_payload ->> 'title'), '') as title,
        nullif(trim(_payload ->> 'category'), '') as category,
        coalesce(nullif(_payload ->> 'line_type', ''), 'product') as line_type,
        coalesce(_payload ->> 'document_type', 'sale') = 'credit_note' as is_credit_note,
        nullif(trim(_payload ->> 'original_order_id'), '') as original_order_id,
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
        line_type,
        is_credit_note,
        original_order_id,
        signed_quantity,
        signed_quantity < 0 as is_return,
        line_type = 'product' and signed_quantity < 0 and unit_price_local = 0
            and customer_id is null and email is null as is_write_off,
        abs(signed_quantity) as quantity,
        unit_price_local,
        cast(abs(signed_quantity) * unit_price_local as decimal(18, 4)) as gross_local,
        abs(discount_local) as discount_local,
        cast(abs(signed_quantity) * unit_price_local - abs(discount_local) as decimal(18, 4)) as net_local,
        -- the line's value with its sign as exported (quantity x price - discount, discounts
        -- reversing with the quantity): what non-product lines book
        cast(signed_quantity * unit_price_local - sign(signed_quantity) * abs(discount_local) as decimal(18, 4))
            as signed_value_local,
        currency,
        email,
        customer_id,
        customer_name,
        country,
        title,
        category,
        is_cancelled,
        source_file
    from renamed
)

select * from final
