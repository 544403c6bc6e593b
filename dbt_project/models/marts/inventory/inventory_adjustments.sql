-- One row per stock adjustment a till export recorded: a product line taken out of stock with
-- no customer and no money (negative quantity at price 0: damaged, thrown away, lost). Never a
-- sale, a customer return or demand. quantity is signed (negative = out of stock); reason is the
-- line's description as exported.
with

lines as (
    select * from {{ ref('stg_tills__order_lines') }}
    where is_write_off and not is_cancelled
),

final as (
    select
        'tills:' || order_line_source_id as adjustment_key,
        'tills' as channel,
        order_id as document_id,
        ordered_at as adjusted_at,
        {{ business_date('ordered_at') }} as adjustment_date,
        sku,
        location_id,
        signed_quantity as quantity,
        coalesce(title, 'unspecified') as reason,
        source_file,
        _max_loaded_at as _loaded_at
    from lines
)

select * from final
