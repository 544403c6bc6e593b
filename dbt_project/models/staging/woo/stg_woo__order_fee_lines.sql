-- WooCommerce fee lines (payment, handling, gift-wrap fees the customer is charged; a negative
-- fee is a discount given as a fee). They are part of the order's `total`; `total` is before tax,
-- `total_tax` the fee's tax (inside the order's total_tax).
with

source as (
    {{ latest_version(source('raw', 'woo__orders')) }}
),

fees as (
    select
        _source_id,
        _max_loaded_at,
        cast(_payload ->> 'id' as varchar) as order_id,
        unnest({{ json_array('_payload', '$.fee_lines') }}) as fee_line
    from source
),

final as (
    select
        _source_id,
        _max_loaded_at,
        order_id,
        order_id || ':' || cast(fee_line ->> 'id' as varchar) as fee_line_id,
        fee_line ->> 'name' as fee_name,
        fee_line ->> 'tax_status' as tax_status,
        coalesce({{ json_money('fee_line', '$.total') }}, 0) as amount_local,
        coalesce({{ json_money('fee_line', '$.total_tax') }}, 0) as tax_local
    from fees
)

select * from final
