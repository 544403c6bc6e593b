{#- Stock adjustments against stock counts: the one rule inventory_levels and inventory_snapshots
    share. A count sees the shelf as it is, so it includes every adjustment made before it; an
    adjustment changes the stock only from the pair's latest count before it until the pair's next
    count. -#}

{#- Each adjustment of marts.inventory_adjustments with the count it follows (`counted_at`: the
    pair's latest count in `counts` strictly before `adjusted_at`). `counts` is a relation or CTE
    with sku, location_id and counted_at. Adjustments before the pair's first count in `counts`
    (included in that count) and without a sku or location are left out. Given only the latest
    count per pair, this keeps exactly the adjustments since the latest count. -#}
{% macro adjustments_after_counts(counts) -%}
    select
        a.adjustment_key,
        a.sku,
        a.location_id,
        a.adjusted_at,
        a.adjustment_date,
        a.quantity,
        a._loaded_at,
        c.counted_at
    from {{ ref('inventory_adjustments') }} as a
    asof inner join {{ counts }} as c
        on a.sku = c.sku and a.location_id = c.location_id and a.adjusted_at > c.counted_at
{%- endmacro %}

{#- On hand after adjustments: the count plus the (signed) adjustments since it, never below zero
    (a write-off of more than the count saw is a stale count, not debt). -#}
{% macro adjusted_on_hand(counted_on_hand, adjusted) -%}
    greatest({{ counted_on_hand }} + coalesce({{ adjusted }}, 0), 0)
{%- endmacro %}
